package lab.infra.core.errors;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

import com.fasterxml.jackson.databind.JsonNode;
import io.sentry.Sentry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalManagementPort;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * Sentry wiring end to end: the real SDK (Spring Boot starter) with its DSN pointing at a real
 * envelope receiver on 127.0.0.1, requests through the real HTTP stack. A 5xx (the chaos errors
 * fault, an unexpected exception) arrives as an event with the exception, {@code service} and
 * {@code request_id} tags, environment and release ({@code core-server@<APP_VERSION>}); 4xx never arrive.
 */
// sentry.release as a stale SENTRY_RELEASE would bind it: the release must still come from APP_VERSION (app.version).
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT, properties = { "management.server.port=0",
        "app.version=6492e4b1c0de-dirty", "sentry.release=core-server@0.1.0" })
@Import(SentryIntegrationTest.BoomController.class)
@DirtiesContext // closes the SDK bound to this receiver; other contexts init their own
class SentryIntegrationTest {

    private static final SentryReceiver receiver = startReceiver();
    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    @LocalServerPort
    private int appPort;

    @LocalManagementPort
    private int managementPort;

    private static SentryReceiver startReceiver() {
        try {
            return new SentryReceiver();
        } catch (IOException ex) {
            throw new IllegalStateException(ex);
        }
    }

    @DynamicPropertySource
    static void sentry(DynamicPropertyRegistry registry) {
        registry.add("sentry.dsn", receiver::dsn);
    }

    @AfterAll
    static void stopReceiver() {
        receiver.close();
    }

    @AfterEach
    void revertChaos() throws Exception {
        call("DELETE", managementPort, "/internal/chaos", null, null);
    }

    @TestConfiguration
    @RestController
    static class BoomController {
        @GetMapping("/api/test/boom")
        String boom() {
            throw new IllegalStateException("boom: unexpected failure in a handler");
        }
    }

    private HttpResponse<String> call(String method, int port, String path, String body, String requestId)
            throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(10))
            .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        if (requestId != null) {
            request.header("X-Request-ID", requestId);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static boolean hasRequestId(JsonNode event, String requestId) {
        return requestId.equals(event.path("tags").path("request_id").asText(null));
    }

    /** The last entry of exception.values is the exception itself (earlier ones are its causes). */
    private static JsonNode exception(JsonNode event) {
        JsonNode values = event.path("exception").path("values");
        return values.get(values.size() - 1);
    }

    @Test
    void sdkIsBoundToTheReceiver() {
        assertThat(Sentry.isEnabled()).isTrue();
        assertThat(Sentry.getCurrentScopes().getOptions().getDsn()).isEqualTo(receiver.dsn());
    }

    @Test
    void chaosErrorsFaultIsReportedWithServiceAndRequestIdTags() throws Exception {
        HttpResponse<String> injected = call("POST", managementPort, "/internal/chaos/errors",
                "{\"duration_seconds\":30,\"status\":500}", null);
        assertThat(injected.statusCode()).as(injected.body()).isEqualTo(201);

        String requestId = "sentry-chaos-" + System.nanoTime();
        HttpResponse<String> response = call("GET", appPort, "/api/health", null, requestId);
        assertThat(response.statusCode()).isEqualTo(500);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/problem+json");

        JsonNode event = receiver.awaitEvent(PATIENCE, e -> hasRequestId(e, requestId));
        JsonNode exception = exception(event);
        assertThat(exception.path("type").asText()).isEqualTo("ChaosInjectedException");
        assertThat(exception.path("module").asText()).isEqualTo("lab.infra.core.chaos");
        assertThat(exception.path("value").asText()).isEqualTo("chaos errors fault: injected failure with status 500");
        assertThat(exception.path("mechanism").path("type").asText()).isEqualTo(ServerErrors.MECHANISM_TYPE);
        assertThat(exception.path("mechanism").path("handled").asBoolean(true)).isFalse();
        assertThat(event.path("tags").path("service").asText()).isEqualTo("core-server");
        assertThat(event.path("tags").path("http.status_code").asText()).isEqualTo("500");
        assertThat(event.path("environment").asText()).isEqualTo("lab");
        assertThat(event.path("release").asText()).isEqualTo("core-server@6492e4b1c0de-dirty");
        // Request data from Sentry's servlet filter: the URL of the failed request.
        assertThat(event.path("request").path("url").asText()).endsWith("/api/health");
        assertThat(receiver.errors()).isEmpty();
    }

    @Test
    void unexpectedExceptionHandledAsProblemJsonIsStillReported() throws Exception {
        String requestId = "sentry-boom-" + System.nanoTime();
        HttpResponse<String> response = call("GET", appPort, "/api/test/boom", null, requestId);
        assertThat(response.statusCode()).isEqualTo(500);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        assertThat(response.body()).doesNotContain("boom:");

        JsonNode event = receiver.awaitEvent(PATIENCE, e -> hasRequestId(e, requestId));
        JsonNode exception = exception(event);
        assertThat(exception.path("type").asText()).isEqualTo("IllegalStateException");
        assertThat(exception.path("value").asText()).isEqualTo("boom: unexpected failure in a handler");
        assertThat(event.path("tags").path("service").asText()).isEqualTo("core-server");
        assertThat(event.path("tags").path("request_id").asText()).isEqualTo(requestId);
    }

    @Test
    void clientErrorsAreNotReported() throws Exception {
        String prefix = "sentry-4xx-" + System.nanoTime() + "-";
        assertThat(call("GET", appPort, "/api/no-such-path", null, prefix + "404").statusCode()).isEqualTo(404);
        assertThat(call("DELETE", appPort, "/api/health", null, prefix + "405").statusCode()).isEqualTo(405);
        assertThat(call("POST", appPort, "/api/jobs", "{\"type\":\"resize\",\"payload\":{}}", prefix + "400")
            .statusCode()).isEqualTo(400);
        assertThat(call("GET", appPort, "/api/jobs/not-a-uuid", null, prefix + "400b").statusCode()).isEqualTo(400);

        // A 5xx afterwards: the SDK sends in order on one thread, so once it is here the 4xx would be too.
        String marker = prefix + "500";
        assertThat(call("GET", appPort, "/api/test/boom", null, marker).statusCode()).isEqualTo(500);
        receiver.awaitEvent(PATIENCE, e -> hasRequestId(e, marker));
        Sentry.flush(2000);

        assertThat(receiver.events())
            .filteredOn(e -> e.path("tags").path("request_id").asText("").startsWith(prefix))
            .extracting(e -> e.path("tags").path("request_id").asText())
            .containsExactly(marker);
    }

    @Test
    void envelopesArriveGzippedNotBrotli() throws Exception {
        String requestId = "sentry-encoding-" + System.nanoTime();
        call("GET", appPort, "/api/test/boom", null, requestId);
        receiver.awaitEvent(PATIENCE, e -> hasRequestId(e, requestId));
        assertThat(receiver.requests()).isNotEmpty()
            .allSatisfy(line -> assertThat(line).matches("POST /api/1/envelope/ (gzip|deflate|null)"));
    }
}
