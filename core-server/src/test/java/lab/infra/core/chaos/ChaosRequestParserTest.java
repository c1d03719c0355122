package lab.infra.core.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.http.HttpStatus;

/** Every refusal of the contract, with the field named in the message. */
class ChaosRequestParserTest {

    private final ChaosRequestParser parser = new ChaosRequestParser(new ObjectMapper());

    private Map<String, Integer> parse(ChaosKind kind, String body) {
        return parser.parse(kind, body.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void defaultsAreFilledInContractOrder() {
        assertThat(parse(ChaosKind.CPU, "{\"duration_seconds\": 30}"))
            .containsExactly(Map.entry("duration_seconds", 30), Map.entry("workers", 1), Map.entry("load_percent", 100));
        assertThat(parse(ChaosKind.MEMORY, "{\"duration_seconds\": 1}"))
            .containsExactly(Map.entry("duration_seconds", 1), Map.entry("rate_mib_per_second", 8),
                    Map.entry("max_mib", 256));
        assertThat(parse(ChaosKind.LATENCY, "{\"duration_seconds\": 600, \"jitter_ms\": 0}"))
            .containsExactly(Map.entry("duration_seconds", 600), Map.entry("delay_ms", 500), Map.entry("jitter_ms", 0),
                    Map.entry("percent", 100));
        assertThat(parse(ChaosKind.ERRORS, "{\"duration_seconds\": 5, \"status\": 599}"))
            .containsExactly(Map.entry("duration_seconds", 5), Map.entry("percent", 100), Map.entry("status", 599));
        assertThat(parse(ChaosKind.DISK, "{\"size_mib\": 10240, \"duration_seconds\": 5}"))
            .containsExactly(Map.entry("duration_seconds", 5), Map.entry("size_mib", 10240));
    }

    @ParameterizedTest(name = "{0} {1} -> {2}")
    @CsvSource(delimiter = '|', textBlock = """
        cpu     | {}                                           | duration_seconds: required
        cpu     | {"workers": 2}                               | duration_seconds: required
        cpu     | {"duration_seconds": 0}                      | duration_seconds: must be between 1 and 600, got 0
        cpu     | {"duration_seconds": 601}                    | duration_seconds: must be between 1 and 600, got 601
        cpu     | {"duration_seconds": 99999999999}            | duration_seconds: must be between 1 and 600
        cpu     | {"duration_seconds": 5, "workers": 5}        | workers: must be between 1 and 4, got 5
        cpu     | {"duration_seconds": 5, "load_percent": 0}   | load_percent: must be between 1 and 100, got 0
        memory  | {"duration_seconds": 5, "max_mib": 2049}     | max_mib: must be between 1 and 2048
        memory  | {"duration_seconds": 5, "rate_mib_per_second": 65} | rate_mib_per_second: must be between 1 and 64
        latency | {"duration_seconds": 5, "delay_ms": 30001}   | delay_ms: must be between 1 and 30000
        latency | {"duration_seconds": 5, "jitter_ms": -1}     | jitter_ms: must be between 0 and 10000
        errors  | {"duration_seconds": 5, "status": 499}       | status: must be between 500 and 599, got 499
        errors  | {"duration_seconds": 5, "percent": 101}      | percent: must be between 1 and 100
        disk    | {"duration_seconds": 5, "size_mib": 10241}   | size_mib: must be between 1 and 10240
        cpu     | {"duration_seconds": 5, "bogus": 1}          | bogus: unknown field for kind 'cpu'
        memory  | {"duration_seconds": 5, "workers": 1}        | workers: unknown field for kind 'memory'
        cpu     | {"duration_seconds": "5"}                    | duration_seconds: must be an integer, got a string
        cpu     | {"duration_seconds": 5.5}                    | duration_seconds: must be an integer, got a non-integer number
        cpu     | {"duration_seconds": 5, "workers": true}     | workers: must be an integer, got a boolean
        cpu     | {"duration_seconds": null}                   | duration_seconds: must be an integer, got null
        cpu     | {"duration_seconds": [5]}                    | duration_seconds: must be an integer, got an array
        cpu     | {"duration_seconds": 5                       | body: malformed JSON
        cpu     | {duration_seconds: 5}                        | body: malformed JSON
        cpu     | {"duration_seconds": 5} trailing             | body: malformed JSON
        cpu     | {"duration_seconds": 5, "duration_seconds": 6} | body: malformed JSON
        cpu     | [1]                                          | body: must be a JSON object, got an array
        cpu     | 5                                            | body: must be a JSON object
        """)
    void badBodiesAre400WithFieldAndReason(String kind, String body, String message) {
        assertThatThrownBy(() -> parse(ChaosKind.fromId(kind).orElseThrow(), body))
            .isInstanceOfSatisfying(ChaosException.class, ex -> {
                assertThat(ex.status()).isEqualTo(HttpStatus.BAD_REQUEST);
                assertThat(ex.error()).isEqualTo("bad_request");
                assertThat(ex.getMessage()).startsWith(message);
            });
    }

    @Test
    void emptyBodyIsRefused() {
        assertThatThrownBy(() -> parser.parse(ChaosKind.CPU, new byte[0]))
            .isInstanceOf(ChaosException.class).hasMessageStartingWith("body: required");
        assertThatThrownBy(() -> parse(ChaosKind.CPU, "   "))
            .isInstanceOf(ChaosException.class).hasMessageStartingWith("body: required");
    }
}
