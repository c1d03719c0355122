package lab.infra.core.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.web.ErrorResponse;

class JobRequestParserTest {

    private final JobRequestParser parser = new JobRequestParser(new ObjectMapper());

    private JobRequestParser.JobRequest parse(String body) {
        return parser.parse(body.getBytes(StandardCharsets.UTF_8));
    }

    private static void rejects(Runnable call, int status, String detail) {
        assertThatThrownBy(call::run).isInstanceOf(JobApiException.class)
            .satisfies(ex -> {
                ErrorResponse error = (ErrorResponse) ex;
                assertThat(error.getStatusCode().value()).isEqualTo(status);
                assertThat(error.getBody().getDetail()).isEqualTo(detail);
            });
    }

    @Test
    void acceptsQuoteWithObjectPayload() {
        JobRequestParser.JobRequest job = parse("{\"type\":\"quote\",\"payload\":{\"symbol\":\"ABC\",\"qty\":3}}");
        assertThat(job.type()).isEqualTo("quote");
        assertThat(job.payloadJson()).isEqualTo("{\"symbol\":\"ABC\",\"qty\":3}");
        assertThat(job.hash()).hasSize(64);
        assertThat(parse("{ \"payload\" : {\"symbol\":\"ABC\",\"qty\":3}, \"type\":\"quote\" }").hash())
            .isEqualTo(job.hash());
        assertThat(parse("{\"type\":\"quote\",\"payload\":{\"qty\":4}}").hash()).isNotEqualTo(job.hash());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "[1,2]|body: must be a JSON object, got an array",
        "{\"type\":\"quote\",\"payload\":{},\"priority\":1}|priority: unknown field (accepted: type, payload)",
        "{\"payload\":{}}|type: required (one of: quote)",
        "{\"type\":7,\"payload\":{}}|type: must be a string, got a number",
        "{\"type\":\"resize\",\"payload\":{}}|type: unknown job type 'resize' (known: quote)",
        "{\"type\":\"quote\"}|payload: required (a JSON object)",
        "{\"type\":\"quote\",\"payload\":[1]}|payload: must be a JSON object, got an array",
        "{\"type\":\"quote\",\"payload\":null}|payload: must be a JSON object, got null",
        "{\"type\":\"quote\",\"payload\":\"x\"}|payload: must be a JSON object, got a string",
    })
    void rejectsWithFieldAndReason(String body, String detail) {
        rejects(() -> parse(body), 400, detail);
    }

    /** PostgreSQL's jsonb refuses U+0000; it used to fail the INSERT as a 500. */
    @ParameterizedTest
    @ValueSource(strings = {
        "{\"type\":\"quote\",\"payload\":{\"a\":\"x\\u0000\"}}",
        "{\"type\":\"quote\",\"payload\":{\"a\":[1,{\"b\":\"\\u0000\"}]}}",
        "{\"type\":\"quote\",\"payload\":{\"k\\u0000\":1}}",
    })
    void nulCharacterInPayloadIs400(String body) {
        rejects(() -> parse(body), 400, "payload: must not contain the NUL character (\\u0000) in any string or key");
    }

    @Test
    void escapedBackslashBeforeU0000IsJustText() {
        assertThat(parse("{\"type\":\"quote\",\"payload\":{\"a\":\"\\\\u0000\"}}").payloadJson())
            .isEqualTo("{\"a\":\"\\\\u0000\"}");
    }

    @Test
    void malformedJsonIncludingTrailingTokensAndDuplicateKeys() {
        assertThatThrownBy(() -> parse("{\"type\":")).hasMessageContaining("body: malformed JSON");
        rejects(() -> parse(""), 400, "body: required: a JSON object with type and payload");
        assertThatThrownBy(() -> parse("{\"type\":\"quote\",\"payload\":{}} x"))
            .satisfies(ex -> assertThat(((ErrorResponse) ex).getBody().getDetail()).startsWith("body: malformed JSON at line 1"));
        assertThatThrownBy(() -> parse("{\"type\":\"quote\",\"type\":\"quote\",\"payload\":{}}"))
            .satisfies(ex -> assertThat(((ErrorResponse) ex).getBody().getDetail()).contains("Duplicate field 'type'"));
    }

    @Test
    void payloadOver16KiBIs413() {
        String big = "x".repeat(JobRequestParser.MAX_PAYLOAD_BYTES);
        rejects(() -> parse("{\"type\":\"quote\",\"payload\":{\"s\":\"" + big + "\"}}"), 413,
                "payload: must be at most 16384 bytes as compact JSON, got 16392");
        String fits = "x".repeat(JobRequestParser.MAX_PAYLOAD_BYTES - 8);
        assertThat(parse("{\"type\":\"quote\",\"payload\":{\"s\":\"" + fits + "\"}}").payloadJson()).hasSize(16384);
        rejects(() -> parser.parse(new byte[JobRequestParser.MAX_BODY_BYTES + 1]), 413, "body: must be at most 65536 bytes");
    }

    @Test
    void cursorRoundTripAndGarbage() {
        var id = java.util.UUID.randomUUID();
        var at = java.time.Instant.parse("2026-11-26T06:00:00.123456Z");
        Object[] decoded = JobService.decodeCursor(JobService.encodeCursor(at, id));
        assertThat(decoded).containsExactly(at, id);
        rejects(() -> JobService.decodeCursor("not-a-cursor!"), 400,
                "cursor: not a cursor from a previous page's next_cursor");
    }
}
