package lab.infra.core.errors;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

import io.sentry.IScopes;
import io.sentry.Sentry;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalManagementPort;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * {@code SENTRY_DSN=} (empty, as in .env with Sentry off): the service starts, the SDK is disabled
 * (no transport, no network), and a 5xx is still served as problem+json.
 */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT,
        properties = { "management.server.port=0", "sentry.dsn=" })
class SentryDisabledTest {

    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @LocalServerPort
    private int appPort;

    @LocalManagementPort
    private int managementPort;

    @Autowired
    private IScopes scopes;

    private HttpResponse<String> call(String method, int port, String path, String body) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(10))
            .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
            .build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void emptyDsnDisablesTheSdkAndTheServiceStillWorks() throws Exception {
        assertThat(scopes.isEnabled()).isFalse();
        assertThat(Sentry.isEnabled()).isFalse();

        try (SentryReceiver receiver = new SentryReceiver()) {
            assertThat(call("GET", appPort, "/api/health", null).statusCode()).isEqualTo(200);
            assertThat(call("POST", managementPort, "/internal/chaos/errors", "{\"duration_seconds\":30}").statusCode())
                .isEqualTo(201);
            try {
                HttpResponse<String> failed = call("GET", appPort, "/api/health", null);
                assertThat(failed.statusCode()).isEqualTo(500);
                assertThat(failed.headers().firstValue("Content-Type")).hasValue("application/problem+json");
            } finally {
                call("DELETE", managementPort, "/internal/chaos", null);
            }
            Sentry.flush(500);
            assertThat(receiver.requests()).isEmpty();
        }
        assertThat(Sentry.isEnabled()).isFalse();
    }
}
