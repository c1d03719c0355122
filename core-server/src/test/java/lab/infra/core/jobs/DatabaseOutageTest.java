package lab.infra.core.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalManagementPort;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;

/**
 * With the database unreachable (nothing listens on port 1), user traffic that needs it gets a fast
 * 503 problem+json, readiness goes DOWN (out of rotation) and liveness stays UP (no restart).
 */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT, properties = {
    "management.server.port=0",
    "spring.datasource.url=jdbc:postgresql://127.0.0.1:1/core",
    "spring.datasource.hikari.connection-timeout=500",
    "spring.datasource.hikari.minimum-idle=0",
    "spring.flyway.enabled=false",
})
@DirtiesContext
class DatabaseOutageTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static final ObjectMapper json = new ObjectMapper();

    @LocalServerPort
    private int appPort;

    @LocalManagementPort
    private int managementPort;

    private static HttpResponse<String> get(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void databaseOutageIs503AndTakesReadinessDownButNotLiveness() throws Exception {
        long started = System.nanoTime();
        HttpResponse<String> stats = get(appPort, "/api/jobs/stats");
        long elapsedMs = (System.nanoTime() - started) / 1_000_000;
        assertThat(stats.statusCode()).isEqualTo(503);
        assertThat(stats.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        assertThat(stats.headers().firstValue("Retry-After")).hasValue("1");
        JsonNode problem = json.readTree(stats.body());
        assertThat(problem.get("detail").asText()).isEqualTo("Database unavailable; retry later.");
        assertThat(stats.body()).doesNotContain("jdbc").doesNotContain("Exception");
        assertThat(elapsedMs).isLessThan(5000);

        HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + appPort + "/api/jobs"))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(JobsApiIntegrationTest.QUOTE)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(post.statusCode()).isEqualTo(503);

        HttpResponse<String> readiness = get(managementPort, "/actuator/health/readiness");
        assertThat(readiness.statusCode()).isEqualTo(503);
        assertThat(json.readTree(readiness.body()).get("components").get("db").get("status").asText()).isEqualTo("DOWN");
        assertThat(get(managementPort, "/actuator/health/liveness").statusCode()).isEqualTo(200);
        // Validation errors do not need the database and still answer 400.
        HttpResponse<String> bad = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + appPort + "/api/jobs"))
            .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{")).build(),
            HttpResponse.BodyHandlers.ofString());
        assertThat(bad.statusCode()).isEqualTo(400);
    }
}
