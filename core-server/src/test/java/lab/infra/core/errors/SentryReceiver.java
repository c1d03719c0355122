package lab.infra.core.errors;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import java.util.zip.GZIPInputStream;
import java.util.zip.InflaterInputStream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import static org.awaitility.Awaitility.await;

/**
 * A real Sentry ingestion endpoint on 127.0.0.1 for tests: accepts {@code POST /api/<project>/envelope/}
 * (gzip or deflate body, like the lab's sentry-sink; anything else, brotli included, gets 415), splits
 * the envelope into items and keeps the JSON payload of every {@code event} item.
 */
final class SentryReceiver implements AutoCloseable {

    private static final ObjectMapper json = new ObjectMapper();

    private final HttpServer server;
    private final List<JsonNode> events = new CopyOnWriteArrayList<>();
    private final List<String> errors = new CopyOnWriteArrayList<>();
    private final List<String> requests = new CopyOnWriteArrayList<>();

    SentryReceiver() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    /** DSN pointing at this receiver, project 1. */
    String dsn() {
        return "http://key@127.0.0.1:" + server.getAddress().getPort() + "/1";
    }

    List<JsonNode> events() {
        return List.copyOf(events);
    }

    /** Every request line seen ({@code POST /api/1/envelope/ gzip}), for "nothing was sent" checks. */
    List<String> requests() {
        return List.copyOf(requests);
    }

    List<String> errors() {
        return List.copyOf(errors);
    }

    JsonNode awaitEvent(Duration timeout, Predicate<JsonNode> match) {
        return await().atMost(timeout).pollInterval(Duration.ofMillis(50))
            .until(() -> events.stream().filter(match).findFirst().orElse(null), e -> e != null);
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String encoding = exchange.getRequestHeaders().getFirst("Content-Encoding");
            String path = exchange.getRequestURI().getPath();
            requests.add(exchange.getRequestMethod() + " " + path + " " + encoding);
            if (!"POST".equals(exchange.getRequestMethod()) || !path.matches("/api/\\d+/envelope/")) {
                exchange.sendResponseHeaders(404, -1);
                return;
            }
            byte[] body;
            try (InputStream raw = exchange.getRequestBody()) {
                InputStream in;
                if (encoding == null || encoding.isEmpty() || encoding.equalsIgnoreCase("identity")) {
                    in = raw;
                } else if (encoding.equalsIgnoreCase("gzip")) {
                    in = new GZIPInputStream(raw);
                } else if (encoding.equalsIgnoreCase("deflate")) {
                    in = new InflaterInputStream(raw);
                } else {
                    errors.add("unsupported Content-Encoding " + encoding);
                    exchange.sendResponseHeaders(415, -1);
                    return;
                }
                body = in.readAllBytes();
            }
            try {
                parse(body);
            } catch (RuntimeException | IOException ex) {
                errors.add("unparsable envelope: " + ex);
                exchange.sendResponseHeaders(400, -1);
                return;
            }
            byte[] reply = "{}".getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, reply.length);
            exchange.getResponseBody().write(reply);
        }
    }

    /** Envelope: header line, then per item a header line and a payload of {@code length} bytes (or one line). */
    private void parse(byte[] body) throws IOException {
        ByteArrayInputStream in = new ByteArrayInputStream(body);
        json.readTree(readLine(in)); // envelope header
        while (in.available() > 0) {
            byte[] headerLine = readLine(in);
            if (headerLine.length == 0) {
                continue;
            }
            JsonNode itemHeader = json.readTree(headerLine);
            byte[] payload;
            if (itemHeader.hasNonNull("length")) {
                payload = in.readNBytes(itemHeader.get("length").asInt());
                readLine(in); // the newline after the payload, if any
            } else {
                payload = readLine(in);
            }
            if ("event".equals(itemHeader.path("type").asText())) {
                events.add(json.readTree(payload));
            }
        }
    }

    private static byte[] readLine(ByteArrayInputStream in) {
        List<Byte> line = new ArrayList<>();
        int b;
        while ((b = in.read()) != -1 && b != '\n') {
            line.add((byte) b);
        }
        byte[] bytes = new byte[line.size()];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = line.get(i);
        }
        return bytes;
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
