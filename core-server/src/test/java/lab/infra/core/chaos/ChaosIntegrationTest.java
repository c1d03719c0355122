package lab.infra.core.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.test.autoconfigure.actuate.observability.AutoConfigureObservability;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalManagementPort;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The chaos contract over real sockets: the API on the management port only, every refusal,
 * and each fault's effect (app-port latency and errors, process CPU time, retained heap, a
 * ballast file), expiry, and the metrics.
 */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT,
        properties = { "management.server.port=0", "chaos.disk.path=target/chaos-test" })
@AutoConfigureObservability(tracing = false)
@ExtendWith(OutputCaptureExtension.class)
class ChaosIntegrationTest {

    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final ObjectMapper json = new ObjectMapper();
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    @LocalServerPort
    private int appPort;

    @LocalManagementPort
    private int managementPort;

    @AfterEach
    void revertEverything() throws Exception {
        assertThat(call("DELETE", managementPort, "/internal/chaos", null).statusCode()).isEqualTo(200);
    }

    private HttpResponse<String> call(String method, int port, String path, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(20));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        request.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode inject(String kind, String body) throws Exception {
        HttpResponse<String> response = call("POST", managementPort, "/internal/chaos/" + kind, body);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(201);
        return json.readTree(response.body()).get("fault");
    }

    private JsonNode faults() throws Exception {
        HttpResponse<String> response = call("GET", managementPort, "/internal/chaos", null);
        assertThat(response.statusCode()).isEqualTo(200);
        return json.readTree(response.body()).get("faults");
    }

    private JsonNode fault(String kind) throws Exception {
        for (JsonNode fault : faults()) {
            if (fault.get("kind").asText().equals(kind)) {
                return fault;
            }
        }
        return null;
    }

    private static void assertContractError(HttpResponse<String> response, int status, String error, String messageStart)
            throws Exception {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
                type -> assertThat(type).startsWith("application/json"));
        JsonNode body = json.readTree(response.body());
        assertThat(body.size()).isEqualTo(2);
        assertThat(body.get("error").asText()).isEqualTo(error);
        assertThat(body.get("message").asText()).startsWith(messageStart);
    }

    @Test
    void apiIsOnTheManagementPortOnly() throws Exception {
        HttpResponse<String> list = call("GET", managementPort, "/internal/chaos", null);
        assertThat(list.statusCode()).isEqualTo(200);
        assertThat(json.readTree(list.body())).isEqualTo(json.readTree("{\"service\":\"core-server\",\"faults\":[]}"));

        for (String method : List.of("GET", "DELETE")) {
            assertThat(call(method, appPort, "/internal/chaos", null).statusCode()).isEqualTo(404);
        }
        HttpResponse<String> post = call("POST", appPort, "/internal/chaos/cpu", "{\"duration_seconds\":5}");
        assertThat(post.statusCode()).isEqualTo(404);
        assertThat(faults()).isEmpty();
    }

    @Test
    void injectListDeleteFollowTheContract() throws Exception {
        Instant before = Instant.now();
        JsonNode fault = inject("latency", "{\"duration_seconds\": 120, \"delay_ms\": 1}");
        assertThat(fault.get("kind").asText()).isEqualTo("latency");
        assertThat(json.writeValueAsString(fault.get("params")))
            .isEqualTo("{\"duration_seconds\":120,\"delay_ms\":1,\"jitter_ms\":0,\"percent\":100}");
        Instant startedAt = Instant.parse(fault.get("started_at").asText());
        Instant expiresAt = Instant.parse(fault.get("expires_at").asText());
        assertThat(fault.get("started_at").asText()).endsWith("Z");
        assertThat(startedAt).isBetween(before.minusSeconds(1), Instant.now().plusSeconds(1));
        assertThat(Duration.between(startedAt, expiresAt)).isEqualTo(Duration.ofSeconds(120));
        assertThat(fault.get("remaining_seconds").asInt()).isBetween(119, 120);

        inject("errors", "{\"duration_seconds\": 120, \"percent\": 1}");
        assertThat(faults()).extracting(f -> f.get("kind").asText()).containsExactly("latency", "errors");

        HttpResponse<String> deleteOne = call("DELETE", managementPort, "/internal/chaos/latency", null);
        assertThat(deleteOne.statusCode()).isEqualTo(200);
        assertThat(json.readTree(deleteOne.body())).isEqualTo(json.readTree("{\"reverted\":[\"latency\"]}"));
        assertContractError(call("DELETE", managementPort, "/internal/chaos/latency", null), 404, "not_found",
                "latency: no active fault");

        HttpResponse<String> deleteAll = call("DELETE", managementPort, "/internal/chaos", null);
        assertThat(json.readTree(deleteAll.body())).isEqualTo(json.readTree("{\"reverted\":[\"errors\"]}"));
        HttpResponse<String> deleteNone = call("DELETE", managementPort, "/internal/chaos", null);
        assertThat(json.readTree(deleteNone.body())).isEqualTo(json.readTree("{\"reverted\":[]}"));
    }

    @Test
    void secondFaultOfAKindIsAConflict() throws Exception {
        inject("errors", "{\"duration_seconds\": 60, \"percent\": 1}");
        assertContractError(call("POST", managementPort, "/internal/chaos/errors", "{\"duration_seconds\": 5}"),
                409, "conflict", "errors: a fault of this kind is already active");
    }

    @Test
    void unknownKindIs404() throws Exception {
        assertContractError(call("POST", managementPort, "/internal/chaos/network", "{\"duration_seconds\": 5}"),
                404, "not_found", "kind: unknown chaos kind 'network'");
        assertContractError(call("DELETE", managementPort, "/internal/chaos/network", null),
                404, "not_found", "kind: unknown chaos kind 'network'");
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "{\"workers\": 2}|duration_seconds: required",
        "{\"duration_seconds\": 601}|duration_seconds: must be between 1 and 600",
        "{\"duration_seconds\": 5, \"workers\": 9}|workers: must be between 1 and 4",
        "{\"duration_seconds\": 5, \"threads\": 2}|threads: unknown field",
        "{\"duration_seconds\": \"5\"}|duration_seconds: must be an integer",
        "{\"duration_seconds\": 5,|body: malformed JSON",
        "|body: required",
    })
    void badRequestsAre400InTheContractShape(String testCase) throws Exception {
        String[] parts = testCase.split("\\|", 2);
        String body = parts[0].isEmpty() ? null : parts[0];
        assertContractError(call("POST", managementPort, "/internal/chaos/cpu", body), 400, "bad_request", parts[1]);
        assertThat(faults()).isEmpty();
    }

    @Test
    void formEncodedCurlBodiesAreReadAsJson() throws Exception {
        // `curl -d '{...}'` sends application/x-www-form-urlencoded.
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + managementPort + "/internal/chaos/errors"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .POST(HttpRequest.BodyPublishers.ofString("{\"duration_seconds\":30,\"percent\":1}")).build();
        assertThat(http.send(request, HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(201);
    }

    @Test
    void faultExpiresByItself(CapturedOutput output) throws Exception {
        inject("latency", "{\"duration_seconds\": 1, \"delay_ms\": 1}");
        assertThat(faults()).hasSize(1);
        await().atMost(PATIENCE).pollInterval(Duration.ofMillis(100)).until(() -> faults().isEmpty());
        await().atMost(PATIENCE).until(() -> output.getOut().contains("\"msg\":\"chaos fault expired\",\"kind\":\"latency\""));
    }

    @Test
    void latencyDelaysAppPortRequestsOnly() throws Exception {
        inject("latency", "{\"duration_seconds\": 60, \"delay_ms\": 600}");

        long start = System.nanoTime();
        assertThat(call("GET", appPort, "/api/health", null).statusCode()).isEqualTo(200);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(600));

        // The management port must stay usable while the app port is slow.
        call("DELETE", managementPort, "/internal/chaos/latency", null);
        inject("latency", "{\"duration_seconds\": 60, \"delay_ms\": 5000}");
        start = System.nanoTime();
        assertThat(call("GET", managementPort, "/actuator/health", null).statusCode()).isEqualTo(200);
        assertThat(faults()).hasSize(1);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(4000));
    }

    @Test
    void errorsFailAppPortRequestsWithProblemJson(CapturedOutput output) throws Exception {
        inject("errors", "{\"duration_seconds\": 60, \"status\": 503}");

        HttpResponse<String> response = call("GET", appPort, "/api/health", null);
        assertThat(response.statusCode()).isEqualTo(503);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        JsonNode problem = json.readTree(response.body());
        assertThat(problem.get("status").asInt()).isEqualTo(503);
        assertThat(response.body()).doesNotContain("Exception", "\tat ", "lab.infra");
        String requestId = response.headers().firstValue("X-Request-ID").orElseThrow();

        // The exception went through the request path and is logged with the request id.
        await().atMost(PATIENCE).until(() -> output.getOut().lines()
            .anyMatch(l -> l.contains(ChaosErrorAdvice.MESSAGE) && l.contains(requestId)
                    && l.contains("\"level\":\"error\"") && l.contains("ChaosInjectedException")));
        // The access line and the RED metrics see the 503.
        await().atMost(PATIENCE).until(() -> output.getOut().lines()
            .anyMatch(l -> l.contains("request completed") && l.contains(requestId) && l.contains("\"status\":503")));

        // The management port is not affected: health, metrics and the chaos API itself.
        assertThat(call("GET", managementPort, "/actuator/health", null).statusCode()).isEqualTo(200);
        assertThat(call("GET", managementPort, "/actuator/prometheus", null).body())
            .containsPattern("http_server_requests_seconds_count\\{error=\"ChaosInjectedException\",exception=\"ChaosInjectedException\",[^}]*status=\"503\",uri=\"/api/health\"");
        assertThat(call("DELETE", managementPort, "/internal/chaos/errors", null).statusCode()).isEqualTo(200);
        assertThat(call("GET", appPort, "/api/health", null).statusCode()).isEqualTo(200);
    }

    @Test
    void errorsPercentIsAProbability() throws Exception {
        inject("errors", "{\"duration_seconds\": 60, \"percent\": 50, \"status\": 502}");
        int failed = 0;
        for (int i = 0; i < 60; i++) {
            int status = call("GET", appPort, "/api/health", null).statusCode();
            assertThat(status).isIn(200, 502);
            failed += (status == 502) ? 1 : 0;
        }
        // Binomial(60, 0.5): outside 10..50 has a probability below 1e-7.
        assertThat(failed).isBetween(10, 50);
    }

    @Test
    void cpuBurnsProcessCpuTime() throws Exception {
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long before = os.getProcessCpuTime();
        inject("cpu", "{\"duration_seconds\": 30, \"workers\": 2, \"load_percent\": 100}");
        // Two busy workers add CPU time faster than wall time; 1.5 s of it is far above idle noise.
        await().atMost(PATIENCE).pollInterval(Duration.ofMillis(100))
            .until(() -> os.getProcessCpuTime() - before > 1_500_000_000L);
        assertThat(Thread.getAllStackTraces().keySet()).anyMatch(t -> t.getName().equals("chaos-cpu-1"));

        call("DELETE", managementPort, "/internal/chaos/cpu", null);
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().startsWith("chaos-cpu-"));
    }

    @Test
    void memoryRetainsHeapUntilReverted() throws Exception {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        long baseline = usedHeapAfterGc(memory);
        inject("memory", "{\"duration_seconds\": 60, \"rate_mib_per_second\": 64, \"max_mib\": 48}");

        await().atMost(PATIENCE).until(() -> fault("memory").get("retained_mib").asInt() == 48);
        // Retained: it survives a full collection.
        assertThat(usedHeapAfterGc(memory) - baseline).isGreaterThan(40L << 20);

        call("DELETE", managementPort, "/internal/chaos/memory", null);
        await().atMost(PATIENCE).until(() -> usedHeapAfterGc(memory) - baseline < 24L << 20);
    }

    private static long usedHeapAfterGc(MemoryMXBean memory) {
        System.gc();
        return memory.getHeapMemoryUsage().getUsed();
    }

    @Test
    void diskWritesABallastAndRemovesItOnDelete() throws Exception {
        JsonNode fault = inject("disk", "{\"duration_seconds\": 60, \"size_mib\": 8}");
        Path file = Path.of(fault.get("path").asText());
        assertThat(file.toAbsolutePath().getParent()).isEqualTo(Path.of("target/chaos-test").toAbsolutePath());

        await().atMost(PATIENCE).until(() -> "complete".equals(fault("disk").get("status").asText()));
        assertThat(fault("disk").get("written_mib").asInt()).isEqualTo(8);
        assertThat(Files.size(file)).isEqualTo(8L << 20);

        assertThat(call("DELETE", managementPort, "/internal/chaos/disk", null).statusCode()).isEqualTo(200);
        assertThat(file).doesNotExist();
    }

    @Test
    void metricsCoverAllKinds() throws Exception {
        inject("errors", "{\"duration_seconds\": 60, \"percent\": 1}");
        List<String> lines = new ArrayList<>(call("GET", managementPort, "/actuator/prometheus", null).body().lines()
            .filter(l -> l.startsWith("chaos_")).toList());
        for (String kind : ChaosKind.ids()) {
            String active = "errors".equals(kind) ? "1.0" : "0.0";
            assertThat(lines).anyMatch(l -> l.startsWith("chaos_fault_active{kind=\"" + kind + "\"") && l.endsWith(" " + active));
            assertThat(lines).anyMatch(l -> l.startsWith("chaos_injections_total{kind=\"" + kind + "\""));
        }
        assertThat(lines).noneMatch(l -> l.startsWith("chaos_injections_total{kind=\"errors\"") && l.endsWith(" 0.0"));
    }
}
