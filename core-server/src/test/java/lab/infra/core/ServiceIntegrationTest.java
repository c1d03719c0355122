package lab.infra.core;

import static lab.infra.core.testsupport.TestHttp.JSON;
import static lab.infra.core.testsupport.TestHttp.get;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.test.autoconfigure.actuate.observability.AutoConfigureObservability;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalManagementPort;
import org.springframework.boot.test.web.server.LocalServerPort;

import lab.infra.core.version.AppVersion;

/**
 * The whole service on real sockets: app port and management port apart, metrics after
 * traffic, exposure limited to health/info/prometheus, and the JSON access line on stdout.
 */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT, properties = "management.server.port=0")
// Spring Boot tests turn metric export off by default; the Prometheus registry is under test here.
@AutoConfigureObservability(tracing = false)
@ExtendWith(OutputCaptureExtension.class)
class ServiceIntegrationTest {

    @LocalServerPort
    private int appPort;

    @LocalManagementPort
    private int managementPort;

    @Value("${chaos.disk.path}")
    private String dataDir;

    // Whatever APP_VERSION/APP_COMMIT this JVM has (VersionIntegrationTest pins them).
    @Autowired
    private AppVersion build;

    @Test
    void healthOnAppPortReflectsActuator() throws Exception {
        HttpResponse<String> response = get(appPort, "/api/health");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(response.body())).isEqualTo(JSON.createObjectNode().put("status", "UP")
            .put("service", "core-server").put("version", build.version()).put("commit", build.commit()));
        assertThat(response.headers().firstValue("X-Request-ID")).isPresent();
    }

    @Test
    void prometheusOnManagementPortHasRequestHistogram() throws Exception {
        assertThat(get(appPort, "/api/health").statusCode()).isEqualTo(200);

        HttpResponse<String> metrics = get(managementPort, "/actuator/prometheus");
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body().lines()
            .filter(l -> l.startsWith("http_server_requests_seconds_bucket{"))
            .filter(l -> l.contains("uri=\"/api/health\"") && l.contains("service=\"core-server\""))
            .toList()).isNotEmpty();
    }

    /** SLO burn-rate alerts count requests under exact bounds; the percentile buckets alone miss 0.5 s. */
    @Test
    void requestHistogramHasSloBuckets() throws Exception {
        assertThat(get(appPort, "/api/health").statusCode()).isEqualTo(200);

        List<String> buckets = get(managementPort, "/actuator/prometheus").body().lines()
            .filter(l -> l.startsWith("http_server_requests_seconds_bucket{") && l.contains("uri=\"/api/health\""))
            .toList();
        for (String le : List.of("0.1", "0.25", "0.5", "1.0", "2.5", "+Inf")) {
            assertThat(buckets).as("le=%s", le).anyMatch(l -> l.contains("le=\"" + le + "\""));
        }
    }

    /** The chaos disk fault fills the data dir; its free and total bytes must be visible to Prometheus. */
    @Test
    void prometheusHasDiskSpaceOfTheDataDir() throws Exception {
        String path = Path.of(dataDir).toAbsolutePath().toString();
        List<String> metrics = get(managementPort, "/actuator/prometheus").body().lines().toList();
        for (String name : List.of("disk_free_bytes", "disk_total_bytes")) {
            String line = metrics.stream()
                .filter(l -> l.startsWith(name + "{") && l.contains("path=\"" + path + "\""))
                .findFirst().orElseThrow(() -> new AssertionError(name + " for " + path + " missing"));
            assertThat(line).contains("service=\"core-server\"");
            assertThat(Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1))).as(line).isPositive();
        }
    }

    @Test
    void managementPortExposesOnlyWhatTheLabUses() throws Exception {
        assertThat(get(managementPort, "/actuator/health").statusCode()).isEqualTo(200);
        assertThat(get(managementPort, "/actuator/health/liveness").statusCode()).isEqualTo(200);
        assertThat(get(managementPort, "/actuator/health/readiness").statusCode()).isEqualTo(200);
        assertThat(get(managementPort, "/actuator/info").statusCode()).isEqualTo(200);
        for (String hidden : List.of("/actuator/env", "/actuator/beans", "/actuator/heapdump", "/actuator/metrics")) {
            assertThat(get(managementPort, hidden).statusCode()).as(hidden).isEqualTo(404);
        }
        // Actuator must not leak onto the port nginx routes to.
        assertThat(get(appPort, "/actuator/health").statusCode()).isEqualTo(404);
    }

    @Test
    void unknownApiPathIsProblemJson() throws Exception {
        HttpResponse<String> response = get(appPort, "/api/does-not-exist", "X-Request-ID", "req-404");
        assertThat(response.statusCode()).isEqualTo(404);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        assertThat(response.headers().firstValue("X-Request-ID")).hasValue("req-404");
        JsonNode body = JSON.readTree(response.body());
        assertThat(body.get("status").asInt()).isEqualTo(404);
        assertThat(response.body()).doesNotContain("Exception", "\tat ");
    }

    @Test
    void accessLineIsContractJson(CapturedOutput output) throws Exception {
        String requestId = "log-test-" + System.nanoTime();
        assertThat(get(appPort, "/api/health?probe=1", "X-Request-ID", requestId).statusCode()).isEqualTo(200);

        // The response can reach the client just before the filter writes its line.
        JsonNode line = null;
        for (int i = 0; i < 50 && line == null; i++) {
            line = accessLine(output, requestId).orElse(null);
            if (line == null) {
                Thread.sleep(20);
            }
        }
        assertThat(line).as("access line for %s in:%n%s", requestId, output.getOut()).isNotNull();

        assertThat(line.get("ts").asText()).matches("\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z");
        assertThat(line.get("level").asText()).isEqualTo("info");
        assertThat(line.get("service").asText()).isEqualTo("core-server");
        assertThat(line.get("msg").asText()).isEqualTo("request completed");
        // The value is that of the first context of this JVM (Logback is set up once); ContractJsonLogFormatterTest pins it.
        assertThat(line.get("version").asText()).isNotBlank();
        assertThat(line.get("method").asText()).isEqualTo("GET");
        assertThat(line.get("path").asText()).isEqualTo("/api/health");
        assertThat(line.get("status").isInt()).isTrue();
        assertThat(line.get("status").asInt()).isEqualTo(200);
        assertThat(line.get("duration_ms").isNumber()).isTrue();
        assertThat(line.get("duration_ms").asDouble()).isGreaterThanOrEqualTo(0.0);

        // Every stdout line, not just ours, must be one JSON object.
        for (String raw : output.getOut().split("\n")) {
            if (!raw.isBlank()) {
                assertThat(JSON.readTree(raw).isObject()).as(raw).isTrue();
            }
        }
    }

    private Optional<JsonNode> accessLine(CapturedOutput output, String requestId) throws Exception {
        for (String raw : output.getOut().split("\n")) {
            if (raw.contains(requestId) && raw.contains("request completed")) {
                return Optional.of(JSON.readTree(raw));
            }
        }
        return Optional.empty();
    }
}
