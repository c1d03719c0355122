package lab.infra.core.jobs;

import static lab.infra.core.testsupport.TestHttp.JSON;
import static lab.infra.core.testsupport.TestHttp.get;
import static lab.infra.core.testsupport.TestHttp.send;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;

import com.fasterxml.jackson.databind.JsonNode;
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

    @LocalServerPort
    private int appPort;

    @LocalManagementPort
    private int managementPort;

    @Test
    void databaseOutageIs503AndTakesReadinessDownButNotLiveness() throws Exception {
        long started = System.nanoTime();
        HttpResponse<String> stats = get(appPort, "/api/jobs/stats");
        long elapsedMs = (System.nanoTime() - started) / 1_000_000;
        assertThat(stats.statusCode()).isEqualTo(503);
        assertThat(stats.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        assertThat(stats.headers().firstValue("Retry-After")).hasValue("1");
        JsonNode problem = JSON.readTree(stats.body());
        assertThat(problem.get("detail").asText()).isEqualTo("Database unavailable; retry later.");
        assertThat(stats.body()).doesNotContain("jdbc").doesNotContain("Exception");
        assertThat(elapsedMs).isLessThan(5000);

        HttpResponse<String> post = send(appPort, "POST", "/api/jobs", JobsApiIntegrationTest.QUOTE);
        assertThat(post.statusCode()).isEqualTo(503);

        HttpResponse<String> readiness = get(managementPort, "/actuator/health/readiness");
        assertThat(readiness.statusCode()).isEqualTo(503);
        assertThat(JSON.readTree(readiness.body()).get("components").get("db").get("status").asText()).isEqualTo("DOWN");
        assertThat(get(managementPort, "/actuator/health/liveness").statusCode()).isEqualTo(200);
        // Validation errors do not need the database and still answer 400.
        HttpResponse<String> bad = send(appPort, "POST", "/api/jobs", "{");
        assertThat(bad.statusCode()).isEqualTo(400);
    }
}
