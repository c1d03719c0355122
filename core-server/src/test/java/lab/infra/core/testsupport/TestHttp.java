package lab.infra.core.testsupport;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Real HTTP calls to the service under test on 127.0.0.1, for the tests that run it on real
 * sockets ({@code @LocalServerPort} / {@code @LocalManagementPort}). Headers are name/value
 * pairs; a body is sent as {@code application/json} unless they name another Content-Type.
 */
public final class TestHttp {

    /** For reading response bodies and log lines. */
    public static final ObjectMapper JSON = new ObjectMapper();

    private static final HttpClient CLIENT = HttpClient.newHttpClient();

    private TestHttp() {
    }

    public static HttpResponse<String> get(int port, String path, String... headers)
            throws IOException, InterruptedException {
        return send(port, "GET", path, null, headers);
    }

    public static HttpResponse<String> send(int port, String method, String path, String body, String... headers)
            throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        boolean contentType = false;
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
            contentType |= headers[i].equalsIgnoreCase("Content-Type");
        }
        if (body != null && !contentType) {
            request.header("Content-Type", "application/json");
        }
        return CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
