package lab.infra.core.jobs;

import static lab.infra.core.testsupport.TestHttp.JSON;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import lab.infra.core.testsupport.TestHttp;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.autoconfigure.actuate.observability.AutoConfigureObservability;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalManagementPort;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * Jobs API on real sockets against the real PostgreSQL of this test JVM (TestPostgres). Dispatch
 * is off here (JOBS_DISPATCH_ENABLED=false), so accepted jobs stay PENDING with an outbox row.
 */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT, properties = "management.server.port=0")
@AutoConfigureObservability(tracing = false)
@ExtendWith(OutputCaptureExtension.class)
class JobsApiIntegrationTest {

    static final String QUOTE = "{\"type\":\"quote\",\"payload\":{\"symbol\":\"ABC\",\"qty\":3}}";

    @LocalServerPort
    private int appPort;

    @LocalManagementPort
    private int managementPort;

    @Autowired
    private JdbcTemplate jdbc;

    @BeforeEach
    void clean() {
        jdbc.execute("TRUNCATE jobs CASCADE");
    }

    private HttpResponse<String> send(String method, String path, String body, String... headers) throws Exception {
        return TestHttp.send(appPort, method, path, body, headers);
    }

    private static JsonNode problem(HttpResponse<String> response, int status) throws Exception {
        assertThat(response.statusCode()).isEqualTo(status);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        JsonNode body = JSON.readTree(response.body());
        assertThat(body.get("status").asInt()).isEqualTo(status);
        assertThat(response.body()).doesNotContain("Exception").doesNotContain("\tat ");
        return body;
    }

    private String create(String body) throws Exception {
        HttpResponse<String> response = send("POST", "/api/jobs", body);
        assertThat(response.statusCode()).isEqualTo(202);
        return JSON.readTree(response.body()).get("id").asText();
    }

    @Test
    void postStoresJobAndOutboxRowAndAnswers202WithLocation(CapturedOutput output) throws Exception {
        HttpResponse<String> response = send("POST", "/api/jobs", QUOTE, "X-Request-ID", "req-job-create");
        assertThat(response.statusCode()).isEqualTo(202);
        JsonNode body = JSON.readTree(response.body());
        String id = body.get("id").asText();
        assertThat(body.get("status").asText()).isEqualTo("PENDING");
        assertThat(body.get("location").asText()).isEqualTo("/api/jobs/" + id);
        assertThat(response.headers().firstValue("Location")).hasValueSatisfying(l -> assertThat(l).endsWith("/api/jobs/" + id));

        assertThat(jdbc.queryForObject("SELECT count(*) FROM outbox WHERE job_id = ?::uuid", Long.class, id)).isEqualTo(1);
        JsonNode job = JSON.readTree(send("GET", "/api/jobs/" + id, null).body());
        assertThat(job.get("id").asText()).isEqualTo(id);
        assertThat(job.get("type").asText()).isEqualTo("quote");
        assertThat(job.get("status").asText()).isEqualTo("PENDING");
        assertThat(job.get("payload")).isEqualTo(JSON.readTree("{\"symbol\":\"ABC\",\"qty\":3}"));
        assertThat(job.get("result").isNull()).isTrue();
        assertThat(job.get("created_at").asText()).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");

        // The acceptance log line carries request_id and job_id.
        JsonNode line = null;
        for (String l : output.getOut().split("\n")) {
            if (l.contains("\"job accepted\"") && l.contains(id)) {
                line = JSON.readTree(l);
            }
        }
        assertThat(line).isNotNull();
        assertThat(line.get("request_id").asText()).isEqualTo("req-job-create");
        assertThat(line.get("job_id").asText()).isEqualTo(id);
    }

    @Test
    void idempotencyKeyReplaysTheSameJobAndRejectsADifferentBody() throws Exception {
        HttpResponse<String> first = send("POST", "/api/jobs", QUOTE, "Idempotency-Key", "order-42");
        HttpResponse<String> again = send("POST", "/api/jobs", QUOTE, "Idempotency-Key", "order-42");
        assertThat(first.statusCode()).isEqualTo(202);
        assertThat(again.statusCode()).isEqualTo(202);
        assertThat(JSON.readTree(again.body()).get("id")).isEqualTo(JSON.readTree(first.body()).get("id"));
        assertThat(again.headers().firstValue("Idempotent-Replayed")).hasValue("true");
        assertThat(jdbc.queryForObject("SELECT count(*) FROM jobs", Long.class)).isEqualTo(1);
        assertThat(jdbc.queryForObject("SELECT count(*) FROM outbox", Long.class)).isEqualTo(1);

        JsonNode conflict = problem(send("POST", "/api/jobs", "{\"type\":\"quote\",\"payload\":{\"qty\":9}}",
                "Idempotency-Key", "order-42"), 422);
        assertThat(conflict.get("detail").asText()).startsWith("Idempotency-Key: already used for a different request");
        problem(send("POST", "/api/jobs", QUOTE, "Idempotency-Key", "bad key with spaces"), 400);
        // Without a key, every POST is a new job.
        create(QUOTE);
        create(QUOTE);
        assertThat(jdbc.queryForObject("SELECT count(*) FROM jobs", Long.class)).isEqualTo(3);
    }

    @Test
    void concurrentRetriesWithOneKeyCreateOneJob() throws Exception {
        List<Thread> threads = new ArrayList<>();
        Set<String> ids = java.util.concurrent.ConcurrentHashMap.newKeySet();
        for (int i = 0; i < 8; i++) {
            Thread thread = new Thread(() -> {
                try {
                    HttpResponse<String> r = send("POST", "/api/jobs", QUOTE, "Idempotency-Key", "same-key");
                    assertThat(r.statusCode()).isEqualTo(202);
                    ids.add(JSON.readTree(r.body()).get("id").asText());
                } catch (Exception ex) {
                    throw new RuntimeException(ex);
                }
            });
            threads.add(thread);
            thread.start();
        }
        for (Thread thread : threads) {
            thread.join();
        }
        assertThat(ids).hasSize(1);
        assertThat(jdbc.queryForObject("SELECT count(*) FROM jobs", Long.class)).isEqualTo(1);
    }

    @Test
    void clientErrorsAreProblemJsonWithClearMessages() throws Exception {
        assertThat(problem(send("POST", "/api/jobs", "{\"type\":\"quote\",\"payload\":"), 400).get("detail").asText())
            .startsWith("body: malformed JSON");
        assertThat(problem(send("POST", "/api/jobs", "{\"type\":\"quote\",\"payload\":{},\"x\":1}"), 400)
            .get("detail").asText()).isEqualTo("x: unknown field (accepted: type, payload)");
        assertThat(problem(send("POST", "/api/jobs", "{\"type\":[],\"payload\":{}}"), 400).get("detail").asText())
            .isEqualTo("type: must be a string, got an array");
        String bigPayload = "{\"type\":\"quote\",\"payload\":{\"s\":\"" + "x".repeat(20_000) + "\"}}";
        assertThat(problem(send("POST", "/api/jobs", bigPayload), 413).get("detail").asText())
            .startsWith("payload: must be at most 16384 bytes");
        String hugeBody = "{\"type\":\"quote\",\"payload\":{\"s\":\"" + "x".repeat(200_000) + "\"}}";
        assertThat(problem(send("POST", "/api/jobs", hugeBody), 413).get("detail").asText())
            .startsWith("body: must be at most 65536 bytes");
        problem(send("POST", "/api/jobs", QUOTE, "Content-Type", "text/plain"), 415);

        assertThat(problem(send("GET", "/api/jobs/not-a-uuid", null), 400).get("detail").asText()).startsWith("id: must be a UUID");
        assertThat(problem(send("GET", "/api/jobs/00000000-0000-4000-8000-000000000000", null), 404).get("detail").asText())
            .isEqualTo("id: no job with id 00000000-0000-4000-8000-000000000000");
        assertThat(problem(send("GET", "/api/jobs?limit=0", null), 400).get("detail").asText())
            .isEqualTo("limit: must be between 1 and 100, got 0");
        problem(send("GET", "/api/jobs?limit=ten", null), 400);
        assertThat(problem(send("GET", "/api/jobs?status=DONE", null), 400).get("detail").asText())
            .startsWith("status: unknown status 'DONE'");
        problem(send("GET", "/api/jobs?cursor=zzz", null), 400);
        problem(send("DELETE", "/api/jobs", null), 405);
    }

    @Test
    void listPaginatesNewestFirstWithStatusFilter() throws Exception {
        List<String> created = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            created.add(create("{\"type\":\"quote\",\"payload\":{\"n\":" + i + "}}"));
        }
        jdbc.update("UPDATE jobs SET status = 'SUCCEEDED' WHERE id = ?::uuid", created.get(0));

        List<String> seen = new ArrayList<>();
        String cursor = null;
        int pages = 0;
        do {
            JsonNode page = JSON.readTree(send("GET", "/api/jobs?limit=3" + (cursor == null ? "" : "&cursor=" + cursor), null).body());
            page.get("items").forEach(item -> seen.add(item.get("id").asText()));
            cursor = page.get("next_cursor").isNull() ? null : page.get("next_cursor").asText();
            pages++;
        } while (cursor != null);
        assertThat(pages).isEqualTo(3);
        List<String> newestFirst = new ArrayList<>(created);
        java.util.Collections.reverse(newestFirst);
        assertThat(seen).isEqualTo(newestFirst);
        assertThat(new HashSet<>(seen)).hasSize(7);

        JsonNode pending = JSON.readTree(send("GET", "/api/jobs?status=pending&limit=100", null).body());
        assertThat(pending.get("items")).hasSize(6);
        JsonNode done = JSON.readTree(send("GET", "/api/jobs?status=SUCCEEDED", null).body());
        assertThat(done.get("items")).hasSize(1);
        assertThat(done.get("items").get(0).get("id").asText()).isEqualTo(created.get(0));
        assertThat(done.get("next_cursor").isNull()).isTrue();
    }

    @Test
    void statsReadsTheDatabaseSynchronously() throws Exception {
        create(QUOTE);
        create(QUOTE);
        String third = create(QUOTE);
        jdbc.update("UPDATE jobs SET status = 'FAILED' WHERE id = ?::uuid", third);
        JsonNode stats = JSON.readTree(send("GET", "/api/jobs/stats", null).body());
        assertThat(stats.get("counts")).isEqualTo(JSON.readTree(
                "{\"PENDING\":2,\"DISPATCHED\":0,\"SUCCEEDED\":0,\"FAILED\":1}"));
        assertThat(stats.get("total").asLong()).isEqualTo(3);
        assertThat(stats.get("outbox").get("size").asLong()).isEqualTo(3);
        assertThat(stats.get("outbox").get("lag_seconds").asDouble()).isGreaterThanOrEqualTo(0);
    }

    @Test
    void resultCallbackIsIdempotentFirstTerminalResultWins() throws Exception {
        String id = create(QUOTE);
        String ok = "{\"job_id\":\"" + id + "\",\"status\":\"SUCCEEDED\",\"result\":{\"price\":12.5},\"error\":null,"
                + "\"attempt\":1,\"finished_at\":\"2026-11-26T06:00:00.000Z\"}";
        HttpResponse<String> first = send("PUT", "/internal/jobs/" + id + "/result", ok);
        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(first.body()).get("status").asText()).isEqualTo("SUCCEEDED");
        assertThat(jdbc.queryForObject("SELECT count(*) FROM outbox", Long.class)).isZero();

        String failed = "{\"job_id\":\"" + id + "\",\"status\":\"FAILED\",\"result\":null,"
                + "\"error\":{\"kind\":\"timeout\",\"message\":\"late\"},\"attempt\":2}";
        HttpResponse<String> late = send("PUT", "/internal/jobs/" + id + "/result", failed);
        assertThat(late.statusCode()).isEqualTo(200);
        JsonNode stored = JSON.readTree(late.body());
        assertThat(stored.get("status").asText()).isEqualTo("SUCCEEDED");
        assertThat(stored.get("result")).isEqualTo(JSON.readTree("{\"price\":12.5}"));
        assertThat(stored.get("error").isNull()).isTrue();
        assertThat(send("PUT", "/internal/jobs/" + id + "/result", ok).statusCode()).isEqualTo(200);

        problem(send("PUT", "/internal/jobs/00000000-0000-4000-8000-000000000000/result", ok.replace(id,
                "00000000-0000-4000-8000-000000000000")), 404);
        problem(send("PUT", "/internal/jobs/nope/result", ok), 404);
        problem(send("PUT", "/internal/jobs/" + id + "/result", "{\"status\":\"RUNNING\"}"), 400);
        problem(send("PUT", "/internal/jobs/" + id + "/result", "{\"status\":\"FAILED\"}"), 400);
        problem(send("PUT", "/internal/jobs/" + id + "/result", "{oops"), 400);
    }

    /** A worker's result callback body; result and error are JSON texts (null for JSON null). */
    private static String callback(String id, String status, String result, String error) {
        return "{\"job_id\":\"" + id + "\",\"status\":\"" + status + "\",\"result\":" + result + ",\"error\":" + error
                + ",\"attempt\":1,\"finished_at\":\"2026-11-26T06:00:00.000Z\"}";
    }

    private JsonNode putResult(String id, String body, String requestId) throws Exception {
        HttpResponse<String> response = send("PUT", "/internal/jobs/" + id + "/result", body, "X-Request-ID", requestId);
        // Any other answer makes the worker retry, and then core re-dispatch, forever.
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return JSON.readTree(response.body());
    }

    private static JsonNode warnLine(CapturedOutput output, String jobId, String msgStart) throws Exception {
        for (String raw : output.getOut().split("\n")) {
            if (raw.contains(jobId) && raw.contains("\"msg\":\"" + msgStart)) {
                return JSON.readTree(raw);
            }
        }
        throw new AssertionError("no '" + msgStart + "' line for job " + jobId + " in:\n" + output.getOut());
    }

    @Test
    void resultWithNulIsRecordedAsFailedInvalidNotRefused(CapturedOutput output) throws Exception {
        // PostgreSQL jsonb cannot store U+0000; this used to be a 500 on every retry of the callback.
        String id = create(QUOTE);
        JsonNode job = putResult(id, callback(id, "SUCCEEDED", "{\"quote\":[\"a\\u0000b\"]}", null), "req-nul-result");
        assertThat(job.get("status").asText()).isEqualTo("FAILED");
        assertThat(job.get("result").isNull()).isTrue();
        assertThat(job.get("error").get("kind").asText()).isEqualTo("invalid");
        assertThat(job.get("error").get("message").asText()).startsWith("result: contains the NUL character (U+0000)")
            .contains("cannot be stored");
        assertThat(JSON.readTree(send("GET", "/api/jobs/" + id, null).body())).isEqualTo(job);
        assertThat(jdbc.queryForObject("SELECT count(*) FROM outbox", Long.class)).isZero();

        JsonNode warn = warnLine(output, id, "job result contains U+0000");
        assertThat(warn.get("level").asText()).isEqualTo("warn");
        assertThat(warn.get("job_id").asText()).isEqualTo(id);
        assertThat(warn.get("request_id").asText()).isEqualTo("req-nul-result");
        assertThat(warn.get("reported_status").asText()).isEqualTo("SUCCEEDED");

        // Still the first terminal result wins: a clean result arriving later changes nothing.
        assertThat(putResult(id, callback(id, "SUCCEEDED", "{\"price\":1}", null), "req-nul-later")).isEqualTo(job);

        // A NUL in a key counts as much as one in a value.
        String other = create(QUOTE);
        JsonNode nulKey = putResult(other, callback(other, "SUCCEEDED", "{\"a\\u0000\":1}", null), "req-nul-key");
        assertThat(nulKey.get("error").get("kind").asText()).isEqualTo("invalid");
    }

    @Test
    void resultWithNulAfterATerminalResultChangesNothing() throws Exception {
        String id = create(QUOTE);
        JsonNode stored = putResult(id, callback(id, "SUCCEEDED", "{\"price\":12.5}", null), "req-ok-first");
        JsonNode again = putResult(id, callback(id, "SUCCEEDED", "{\"note\":\"\\u0000\"}", null), "req-nul-second");
        assertThat(again).isEqualTo(stored);
        assertThat(again.get("status").asText()).isEqualTo("SUCCEEDED");
        assertThat(again.get("result")).isEqualTo(JSON.readTree("{\"price\":12.5}"));
    }

    @Test
    void failedResultWithNulInItsErrorKeepsTheWorkersErrorWithoutTheNul(CapturedOutput output) throws Exception {
        String id = create(QUOTE);
        String error = "{\"kind\":\"upstream_5xx\",\"message\":\"ext-api said: bad\\u0000body\"}";
        JsonNode job = putResult(id, callback(id, "FAILED", null, error), "req-nul-error");
        assertThat(job.get("status").asText()).isEqualTo("FAILED");
        assertThat(job.get("error")).isEqualTo(JSON.readTree(
                "{\"kind\":\"upstream_5xx\",\"message\":\"ext-api said: bad\\ufffdbody\"}"));
        JsonNode warn = warnLine(output, id, "job error contains U+0000");
        assertThat(warn.get("level").asText()).isEqualTo("warn");
        assertThat(warn.get("request_id").asText()).isEqualTo("req-nul-error");
    }

    @Test
    void readinessIncludesTheDatabaseAndLivenessDoesNot() throws Exception {
        JsonNode readiness = JSON.readTree(TestHttp.get(managementPort, "/actuator/health/readiness").body());
        assertThat(readiness.get("components").has("db")).isTrue();
        JsonNode liveness = JSON.readTree(TestHttp.get(managementPort, "/actuator/health/liveness").body());
        assertThat(liveness.path("components").has("db")).isFalse();
        assertThat(liveness.get("status").asText()).isEqualTo("UP");
    }

    @Test
    void prometheusHasPoolJobAndDispatchMetrics() throws Exception {
        create(QUOTE);
        String metrics = TestHttp.get(managementPort, "/actuator/prometheus").body();
        assertThat(metrics).contains("hikaricp_connections_max{pool=\"core-db\",service=\"core-server\"} 5.0");
        assertThat(metrics).contains("hikaricp_connections_timeout_total{pool=\"core-db\"");
        assertThat(metrics).contains("core_jobs{service=\"core-server\",status=\"PENDING\"}");
        assertThat(metrics).contains("core_outbox_lag_seconds{service=\"core-server\"}");
        assertThat(metrics).contains("core_outbox_size{service=\"core-server\"}");
        assertThat(metrics).contains("core_jobs_accepted_total{service=\"core-server\",type=\"quote\"}");
        // Present (0) before the first poison job, so alerts and dashboards can rely on it.
        assertThat(metrics).contains("core_jobs_dispatch_exhausted_total{service=\"core-server\"}");
    }

    @Test
    void everyFailedErrorKindIsStoredAndShownAsTheWorkerSentIt() throws Exception {
        // internal: the worker's processing of the job panicked; core stores and shows it like any other kind.
        for (String kind : List.of("internal", "dispatch_exhausted", "timeout", "invalid")) {
            String id = create(QUOTE);
            String error = "{\"kind\":\"" + kind + "\",\"message\":\"" + kind + " happened\"}";
            JsonNode job = putResult(id, callback(id, "FAILED", null, error), "req-kind-" + kind);
            assertThat(job.get("status").asText()).isEqualTo("FAILED");
            assertThat(job.get("error")).isEqualTo(JSON.readTree(error));
            assertThat(JSON.readTree(send("GET", "/api/jobs/" + id, null).body()).get("error")).isEqualTo(JSON.readTree(error));
        }
    }
}
