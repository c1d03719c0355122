package lab.infra.core.jobs;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * A scriptable stand-in for worker-server's {@code POST /internal/jobs} on a real socket: it can
 * be down (not started), slow, answer 429 with Retry-After, 5xx or 400, and call the job's
 * callback_url back (also more than once, to prove duplicate delivery is harmless).
 */
final class FakeWorker implements AutoCloseable {

    /** What to do with the n-th (1-based) dispatch of one job. */
    interface Script {
        Reply reply(int nthCallForJob);
    }

    /**
     * @param status HTTP status to answer
     * @param retryAfter Retry-After header value or null
     * @param delayMs wait before answering (slow worker)
     * @param callbacks how many times to PUT a SUCCEEDED result to callback_url after answering
     * @param body the answer's body; null means {@code {"job_id": ...}}
     */
    record Reply(int status, String retryAfter, long delayMs, int callbacks, String body) {
        Reply(int status, String retryAfter, long delayMs, int callbacks) {
            this(status, retryAfter, delayMs, callbacks, null);
        }

        static Reply accept() {
            return new Reply(202, null, 0, 1);
        }
    }

    record Call(String jobId, int attempt, String callbackUrl, String requestId, long atNanos, int status) {
    }

    private static final ObjectMapper json = new ObjectMapper();

    private final int port;
    private final HttpClient http = HttpClient.newHttpClient();
    private final ExecutorService callbacks = Executors.newCachedThreadPool();
    private final List<Call> calls = new CopyOnWriteArrayList<>();
    private final Map<String, AtomicInteger> callsPerJob = new ConcurrentHashMap<>();
    private final List<Integer> callbackStatuses = new CopyOnWriteArrayList<>();
    private volatile Script script = n -> Reply.accept();
    private HttpServer server;

    FakeWorker(int port) {
        this.port = port;
    }

    FakeWorker script(Script script) {
        this.script = script;
        return this;
    }

    synchronized void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 50);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/internal/jobs", this::handle);
        server.start();
    }

    synchronized void stop() {
        if (server != null) {
            server.stop(0);
            server = null;
        }
    }

    List<Call> calls() {
        return calls;
    }

    List<Call> callsFor(String jobId) {
        return calls.stream().filter(c -> c.jobId().equals(jobId)).toList();
    }

    List<Integer> callbackStatuses() {
        return callbackStatuses;
    }

    void reset() {
        calls.clear();
        callsPerJob.clear();
        callbackStatuses.clear();
        script = n -> Reply.accept();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            JsonNode body = json.readTree(exchange.getRequestBody().readAllBytes());
            String jobId = body.get("job_id").asText();
            int nth = callsPerJob.computeIfAbsent(jobId, k -> new AtomicInteger()).incrementAndGet();
            Reply reply = script.reply(nth);
            calls.add(new Call(jobId, body.get("attempt").asInt(), body.get("callback_url").asText(),
                    exchange.getRequestHeaders().getFirst("X-Request-ID"), System.nanoTime(), reply.status()));
            if (reply.delayMs() > 0) {
                Thread.sleep(reply.delayMs());
            }
            if (reply.retryAfter() != null) {
                exchange.getResponseHeaders().set("Retry-After", reply.retryAfter());
            }
            byte[] answer = ((reply.body() != null) ? reply.body() : "{\"job_id\":\"" + jobId + "\"}")
                .getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(reply.status(), answer.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(answer);
            } catch (IOException ex) {
                // the client gave up (timeout); a real worker would still have queued the job
            }
            for (int i = 0; i < reply.callbacks(); i++) {
                String callbackUrl = body.get("callback_url").asText();
                int attempt = body.get("attempt").asInt();
                callbacks.execute(() -> callBack(callbackUrl, jobId, attempt));
            }
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
        }
    }

    private void callBack(String callbackUrl, String jobId, int attempt) {
        String result = "{\"job_id\":\"" + jobId + "\",\"status\":\"SUCCEEDED\",\"result\":{\"price\":1.5,\"attempt\":"
                + attempt + "},\"error\":null,\"attempt\":" + attempt + ",\"finished_at\":\"2026-11-26T06:00:00.000Z\"}";
        try {
            HttpResponse<Void> response = http.send(HttpRequest.newBuilder(URI.create(callbackUrl))
                .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(result)).build(),
                HttpResponse.BodyHandlers.discarding());
            callbackStatuses.add(response.statusCode());
        } catch (IOException ex) {
            callbackStatuses.add(-1);
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        stop();
        callbacks.shutdownNow();
    }
}
