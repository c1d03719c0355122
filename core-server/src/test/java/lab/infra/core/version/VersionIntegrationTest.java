package lab.infra.core.version;

import static lab.infra.core.testsupport.TestHttp.JSON;
import static lab.infra.core.testsupport.TestHttp.get;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.test.autoconfigure.actuate.observability.AutoConfigureObservability;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalManagementPort;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;

/**
 * The build set through the config (app.version / app.commit, what APP_VERSION / APP_COMMIT feed) on the
 * real endpoints: {@code build_info} on the ops port's Prometheus endpoint, next to the other metrics and
 * with the same common {@code service} label, and the app port's health JSON.
 */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT, properties = { "management.server.port=0",
        "app.version=" + VersionIntegrationTest.VERSION, "app.commit=" + VersionIntegrationTest.COMMIT })
// Spring Boot tests turn metric export off by default; the Prometheus registry is under test here.
@AutoConfigureObservability(tracing = false)
@DirtiesContext // nobody else uses these properties; do not keep a whole service running for the rest of the run
class VersionIntegrationTest {

    static final String VERSION = "6492e4b1c0de-dirty";
    static final String COMMIT = "6492e4b1c0de5f0a9e3b7c1d2f4a6b8c9d0e1f2a";

    @LocalServerPort
    private int appPort;

    @LocalManagementPort
    private int managementPort;

    /** Prometheus asks for OpenMetrics first; the plain text format is the fallback and what curl gets. */
    @ParameterizedTest
    @ValueSource(strings = { "text/plain", "application/openmetrics-text; version=1.0.0" })
    void buildInfoIsExposedWithExactlyTheseLabels(String accept) throws Exception {
        HttpResponse<String> response = get(managementPort, "/actuator/prometheus", "Accept", accept);
        assertThat(response.statusCode()).isEqualTo(200);
        List<String> lines = response.body().lines().toList();

        assertThat(lines.stream().filter(l -> l.startsWith("build")).toList()).containsExactly(
                "build_info{commit=\"" + COMMIT + "\",service=\"core-server\",version=\"" + VERSION + "\"} 1");
        // Next to the service's existing metrics, which carry the same common label.
        assertThat(lines).anyMatch(l -> l.startsWith("jvm_threads_live_threads{") && l.contains("service=\"core-server\""));
    }

    @Test
    void healthCarriesVersionAndCommit() throws Exception {
        HttpResponse<String> response = get(appPort, "/api/health");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("{\"status\":\"UP\",\"service\":\"core-server\",\"version\":\""
                + VERSION + "\",\"commit\":\"" + COMMIT + "\"}");
        assertThat(JSON.readTree(response.body()).get("version").asText()).isEqualTo(VERSION);
    }
}
