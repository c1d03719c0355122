package lab.infra.core.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RequiredSettingsTest {

    @Test
    void dbPasswordIsRequiredFromEnvOrSystemProperties() {
        assertThat(RequiredSettings.missing(k -> null, k -> null)).startsWith("DB_PASSWORD is not set");
        assertThat(RequiredSettings.missing(Map.of("DB_PASSWORD", "x")::get, k -> null)).isNull();
        assertThat(RequiredSettings.missing(k -> null, Map.of("DB_PASSWORD", "x")::get)).isNull();
        assertThat(RequiredSettings.missing(Map.of("SPRING_DATASOURCE_PASSWORD", "x")::get, k -> null)).isNull();
    }

    /** The refusal line is written before Spring (and its log formatter) starts; it still carries the version. */
    @ParameterizedTest
    @CsvSource(nullValues = "NULL", delimiter = '|', value = {
        "6492e4b1c0de-dirty | 6492e4b1c0de-dirty",
        "NULL               | dev",
        "''                 | dev",
        "'v\"1\\'          | 'v\"1\\'",
    })
    void refusalLineIsContractJsonWithTheVersion(String appVersion, String expected) throws Exception {
        String line = RequiredSettings.refusalLine("DB_PASSWORD is not set", Instant.parse("2026-11-26T05:40:01Z"),
                appVersion);
        JsonNode json = new ObjectMapper().readTree(line);
        assertThat(line).startsWith("{\"ts\":\"2026-11-26T05:40:01.000Z\",\"level\":\"error\",\"service\":\"core-server\","
                + "\"version\":");
        assertThat(json.get("version").asText()).isEqualTo(expected);
        assertThat(json.get("msg").asText()).isEqualTo("refusing to start");
        assertThat(json.get("reason").asText()).isEqualTo("DB_PASSWORD is not set");
    }
}
