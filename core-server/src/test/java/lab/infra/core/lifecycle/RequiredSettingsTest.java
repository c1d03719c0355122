package lab.infra.core.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;

import org.junit.jupiter.api.Test;

class RequiredSettingsTest {

    @Test
    void dbPasswordIsRequiredFromEnvOrSystemProperties() {
        assertThat(RequiredSettings.missing(k -> null, k -> null)).startsWith("DB_PASSWORD is not set");
        assertThat(RequiredSettings.missing(Map.of("DB_PASSWORD", "x")::get, k -> null)).isNull();
        assertThat(RequiredSettings.missing(k -> null, Map.of("DB_PASSWORD", "x")::get)).isNull();
        assertThat(RequiredSettings.missing(Map.of("SPRING_DATASOURCE_PASSWORD", "x")::get, k -> null)).isNull();
    }
}
