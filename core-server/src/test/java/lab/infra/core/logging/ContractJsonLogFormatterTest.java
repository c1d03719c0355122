package lab.infra.core.logging;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.Map;
import java.util.stream.Stream;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.pattern.ThrowableProxyConverter;
import ch.qos.logback.classic.spi.LoggingEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.event.KeyValuePair;
import org.springframework.mock.env.MockEnvironment;

/** Field names, value shapes and types of the shared log contract, on hand-made events. */
class ContractJsonLogFormatterTest {

    private final ObjectMapper json = new ObjectMapper();
    private final LoggerContext loggerContext = new LoggerContext();
    private final ContractJsonLogFormatter formatter = new ContractJsonLogFormatter(
            new MockEnvironment().withProperty("spring.application.name", "core-server")
                .withProperty("app.version", "6492e4b1c0de-dirty"), converter());

    private ThrowableProxyConverter converter() {
        ThrowableProxyConverter converter = new ThrowableProxyConverter();
        converter.setContext(loggerContext);
        converter.start();
        return converter;
    }

    private LoggingEvent event(Level level, String message, Throwable error, Object... args) {
        return event(Map.of(), level, message, error, args);
    }

    private LoggingEvent event(Map<String, String> mdc, Level level, String message, Throwable error,
            Object... args) {
        Logger logger = loggerContext.getLogger("lab.infra.core.Sample");
        LoggingEvent event = new LoggingEvent(Logger.class.getName(), logger, level, message, error, args);
        // Whole second on purpose: the millis must still be printed as ".000".
        event.setInstant(Instant.parse("2026-11-26T05:40:01Z"));
        event.setThreadName("worker-1");
        event.setMDCPropertyMap(mdc);
        return event;
    }

    @Test
    void contractFieldsWithTypedEventFields() throws Exception {
        LoggingEvent event = event(Map.of("request_id", "req-1"), Level.INFO, "request {}", null, "completed");
        event.addKeyValuePair(new KeyValuePair("status", 200));
        event.addKeyValuePair(new KeyValuePair("duration_ms", 1.5));
        event.addKeyValuePair(new KeyValuePair("level", "must not override"));

        String line = formatter.format(event);
        assertThat(line).endsWith("\n").doesNotContain("\n\n");
        JsonNode node = json.readTree(line);

        assertThat(node.get("ts").asText()).isEqualTo("2026-11-26T05:40:01.000Z");
        assertThat(node.get("level").asText()).isEqualTo("info");
        assertThat(node.get("service").asText()).isEqualTo("core-server");
        assertThat(node.get("msg").asText()).isEqualTo("request completed");
        assertThat(node.get("request_id").asText()).isEqualTo("req-1");
        assertThat(node.get("version").asText()).isEqualTo("6492e4b1c0de-dirty");
        assertThat(node.get("status").isInt()).isTrue();
        assertThat(node.get("status").asInt()).isEqualTo(200);
        assertThat(node.get("duration_ms").isNumber()).isTrue();
        assertThat(node.get("logger").asText()).isEqualTo("lab.infra.core.Sample");
        assertThat(node.get("thread").asText()).isEqualTo("worker-1");
        assertThat(node.has("error")).isFalse();
        // Starts with the contract fields in contract order (version before msg, as in worker-server).
        assertThat(line).startsWith("{\"ts\":\"2026-11-26T05:40:01.000Z\",\"level\":\"info\",\"service\":\"core-server\","
                + "\"version\":\"6492e4b1c0de-dirty\",\"msg\":\"request completed\",\"request_id\":\"req-1\",");
    }

    @Test
    void aKeyInBothMdcAndEventFieldsIsWrittenOnce() throws Exception {
        LoggingEvent event = event(Map.of("request_id", "req-1", "job_id", "from-mdc"), Level.INFO, "job finished", null);
        event.addKeyValuePair(new KeyValuePair("job_id", "from-event"));
        String line = formatter.format(event);
        assertThat(line.split("\"job_id\"", -1)).hasSize(2);
        assertThat(json.readTree(line).get("job_id").asText()).isEqualTo("from-event");
    }

    static Stream<Arguments> versions() {
        return Stream.of(
            // app.version (APP_VERSION), expected "version" field
            Arguments.of("6492e4b1c0de", "6492e4b1c0de"),
            Arguments.of("6492e4b1c0de-dirty", "6492e4b1c0de-dirty"),
            Arguments.of(null, "dev"),
            Arguments.of("", "dev"),
            Arguments.of("v\"1\\\n{}", "v\"1\\\n{}"));
    }

    /** Every line carries the build, on startup lines (no request) too; odd values are escaped, not dropped. */
    @ParameterizedTest
    @MethodSource("versions")
    void everyLineCarriesTheVersion(String configured, String expected) throws Exception {
        MockEnvironment environment = new MockEnvironment().withProperty("spring.application.name", "core-server");
        if (configured != null) {
            environment.setProperty("app.version", configured);
        }
        ContractJsonLogFormatter withVersion = new ContractJsonLogFormatter(environment, converter());
        LoggingEvent event = event(Map.of("version", "from-mdc"), Level.WARN, "startup", null);
        event.addKeyValuePair(new KeyValuePair("version", "from-event"));

        String line = withVersion.format(event);
        assertThat(line.split("\"version\"", -1)).hasSize(2);
        assertThat(json.readTree(line).get("version").asText()).isEqualTo(expected);
    }

    @Test
    void noRequestIdOutsideARequest() throws Exception {
        JsonNode node = json.readTree(formatter.format(event(Level.INFO, "startup", null)));
        assertThat(node.has("request_id")).isFalse();
    }

    @Test
    void levelsAreLowercaseContractLevels() throws Exception {
        assertThat(levelOf(Level.ERROR)).isEqualTo("error");
        assertThat(levelOf(Level.WARN)).isEqualTo("warn");
        assertThat(levelOf(Level.INFO)).isEqualTo("info");
        assertThat(levelOf(Level.DEBUG)).isEqualTo("debug");
        assertThat(levelOf(Level.TRACE)).isEqualTo("debug");
    }

    private String levelOf(Level level) throws Exception {
        return json.readTree(formatter.format(event(level, "x", null))).get("level").asText();
    }

    @Test
    void exceptionStaysOnOneLine() throws Exception {
        String line = formatter.format(event(Level.ERROR, "boom", new IllegalStateException("bad state")));
        assertThat(line.strip()).doesNotContain("\n");
        JsonNode node = json.readTree(line);
        assertThat(node.get("error").asText()).isEqualTo("java.lang.IllegalStateException: bad state");
        assertThat(node.get("stack_trace").asText()).contains("IllegalStateException", "ContractJsonLogFormatterTest");
    }

    @Test
    void messagesAreEscaped() throws Exception {
        JsonNode node = json.readTree(formatter.format(event(Level.INFO, "quote \" and\nnewline", null)));
        assertThat(node.get("msg").asText()).isEqualTo("quote \" and\nnewline");
    }
}
