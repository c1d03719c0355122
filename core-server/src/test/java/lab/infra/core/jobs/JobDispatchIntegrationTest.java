package lab.infra.core.jobs;

import static lab.infra.core.testsupport.TestHttp.JSON;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import lab.infra.core.testsupport.TestHttp;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The outbox dispatcher against a real HTTP worker stand-in (down, slow, 429, 5xx, 400, silent)
 * and the real PostgreSQL: every accepted job reaches a terminal state, and exactly once
 * (core.jobs.finished grows by exactly the number of jobs even when results arrive twice).
 */
@SpringBootTest(webEnvironment = WebEnvironment.DEFINED_PORT, properties = {
    "management.server.port=0",
    "jobs.dispatch.enabled=true",
    "jobs.dispatch.poll-interval=50ms",
    "jobs.dispatch.concurrency=4",
    "jobs.dispatch.connect-timeout=300ms",
    "jobs.dispatch.read-timeout=400ms",
    "jobs.dispatch.backoff-initial=50ms",
    "jobs.dispatch.backoff-max=400ms",
    "jobs.dispatch.retry-after-max=3s",
    "jobs.dispatch.stale-timeout=1500ms",
    "jobs.dispatch.sweep-interval=200ms",
    "jobs.dispatch.max-dispatches=3",
})
@DirtiesContext
@ExtendWith(OutputCaptureExtension.class)
class JobDispatchIntegrationTest {

    private static int appPort;
    private static FakeWorker worker;

    @DynamicPropertySource
    static void ports(DynamicPropertyRegistry registry) throws IOException {
        appPort = freePort();
        int workerPort = freePort();
        worker = new FakeWorker(workerPort);
        registry.add("server.port", () -> appPort);
        registry.add("jobs.worker-url", () -> "http://127.0.0.1:" + workerPort);
        registry.add("jobs.callback-base-url", () -> "http://127.0.0.1:" + appPort);
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    @Autowired
    private JdbcTemplate jdbc;

    @Autowired
    private MeterRegistry meters;

    private double finishedBefore;

    @BeforeEach
    void clean() {
        jdbc.execute("TRUNCATE jobs CASCADE");
        worker.stop();
        worker.reset();
        finishedBefore = finished();
    }

    @AfterEach
    void stopWorker() {
        worker.stop();
    }

    @AfterAll
    static void closeWorker() {
        worker.close();
    }

    private double finished() {
        return meters.find("core.jobs.finished").counters().stream().mapToDouble(Counter::count).sum();
    }

    private double attempts(String outcome) {
        Counter counter = meters.find("core.dispatch.attempts").tag("outcome", outcome).counter();
        return (counter == null) ? 0 : counter.count();
    }

    private List<String> createJobs(int n) throws Exception {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            HttpResponse<String> response = TestHttp.send(appPort, "POST", "/api/jobs",
                    "{\"type\":\"quote\",\"payload\":{\"n\":" + i + "}}", "X-Request-ID", "dispatch-test-" + i);
            assertThat(response.statusCode()).isEqualTo(202);
            ids.add(JSON.readTree(response.body()).get("id").asText());
        }
        return ids;
    }

    private long count(String where) {
        return jdbc.queryForObject("SELECT count(*) FROM jobs WHERE " + where, Long.class);
    }

    private void awaitAllTerminalExactlyOnce(int jobs) {
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).untilAsserted(() -> {
            assertThat(count("status IN ('SUCCEEDED', 'FAILED')")).isEqualTo(jobs);
            assertThat(jdbc.queryForObject("SELECT count(*) FROM outbox", Long.class)).isZero();
        });
        // Late duplicates still in flight must not count twice.
        await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(5))
            .untilAsserted(() -> assertThat(finished() - finishedBefore).isEqualTo(jobs));
    }

    @Test
    void everyDispatchOutcomeIsCountedFromZero() {
        for (JobDispatcher.Outcome outcome : JobDispatcher.Outcome.values()) {
            assertThat(meters.find("core.dispatch.attempts").tag("outcome", outcome.tag).counter())
                .as("core_dispatch_attempts_total{outcome=\"%s\"}", outcome.tag).isNotNull();
        }
    }

    @Test
    void workerDownThenUpDeliversEveryJobOnce() throws Exception {
        List<String> ids = createJobs(6);
        // Down: connection refused, retried with backoff, nothing lost.
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
            assertThat(jdbc.queryForObject("SELECT min(attempts) FROM outbox", Integer.class)).isGreaterThanOrEqualTo(3));
        assertThat(count("status = 'PENDING'")).isEqualTo(6);
        assertThat(attempts("connection_error")).isGreaterThanOrEqualTo(12);
        assertThat(jdbc.queryForObject("SELECT max(last_error) FROM outbox", String.class)).isEqualTo("connection_error");

        worker.start();
        awaitAllTerminalExactlyOnce(6);
        assertThat(count("status = 'SUCCEEDED'")).isEqualTo(6);
        for (int i = 0; i < ids.size(); i++) {
            List<FakeWorker.Call> calls = worker.callsFor(ids.get(i));
            assertThat(calls).hasSize(1);
            FakeWorker.Call call = calls.get(0);
            // attempt counts every try, including the refused connections before the worker came up.
            assertThat(call.attempt()).isGreaterThanOrEqualTo(4);
            assertThat(call.callbackUrl()).isEqualTo("http://127.0.0.1:" + appPort + "/internal/jobs/" + ids.get(i) + "/result");
            assertThat(call.requestId()).isEqualTo("dispatch-test-" + i);
        }
    }

    @Test
    void throttledSlowAndFailingWorkerStillDeliversEveryJobOnce() throws Exception {
        worker.script(n -> switch (n) {
            case 1 -> new FakeWorker.Reply(429, "1", 0, 0);
            case 2 -> new FakeWorker.Reply(500, null, 0, 0);
            case 3 -> new FakeWorker.Reply(503, null, 0, 0);
            // Slower than the read timeout, but the worker did take it and reports back: core retries anyway.
            case 4 -> new FakeWorker.Reply(202, null, 800, 1);
            // The retry lands on a worker that already has the job (200), which reports again: a duplicate.
            default -> new FakeWorker.Reply(200, null, 0, 1);
        });
        worker.start();
        double throttled = attempts("throttled");
        double timeouts = attempts("timeout");
        List<String> ids = createJobs(4);

        awaitAllTerminalExactlyOnce(4);
        assertThat(count("status = 'SUCCEEDED'")).isEqualTo(4);
        for (String id : ids) {
            List<FakeWorker.Call> calls = worker.callsFor(id);
            assertThat(calls.size()).isBetween(4, 5);
            // Retry-After: 1 is honoured before the second try.
            long gapMs = TimeUnit.NANOSECONDS.toMillis(calls.get(1).atNanos() - calls.get(0).atNanos());
            assertThat(gapMs).isGreaterThanOrEqualTo(950);
            assertThat(calls.get(1).attempt()).isEqualTo(calls.get(0).attempt() + 1);
        }
        assertThat(attempts("throttled") - throttled).isEqualTo(4);
        assertThat(attempts("timeout") - timeouts).isGreaterThanOrEqualTo(1);
        assertThat(attempts("server_error")).isGreaterThanOrEqualTo(4);
        assertThat(attempts("unavailable")).isGreaterThanOrEqualTo(4);
        // Every callback got a 200: repeats are answered with the stored state.
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
            assertThat(worker.callbackStatuses()).isNotEmpty().allMatch(s -> s == 200));
    }

    @Test
    void duplicateResultDeliveryIsHarmless(CapturedOutput output) throws Exception {
        worker.script(n -> new FakeWorker.Reply(202, null, 0, 3));
        worker.start();
        List<String> ids = createJobs(5);
        awaitAllTerminalExactlyOnce(5);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(worker.callbackStatuses()).hasSize(15));
        assertThat(worker.callbackStatuses()).allMatch(s -> s == 200);
        assertThat(finished() - finishedBefore).isEqualTo(5);
        // One "job finished" line per job (with its job_id), the repeats are logged as duplicates.
        for (String id : ids) {
            List<String> lines = output.getOut().lines().filter(l -> l.contains(id)).toList();
            assertThat(lines.stream().filter(l -> l.contains("\"msg\":\"job finished\"")).count()).isEqualTo(1);
            assertThat(lines.stream().filter(l -> l.contains("\"msg\":\"duplicate job result ignored\"")).count()).isEqualTo(2);
        }
    }

    @Test
    void rejectedJobFailsWithoutRetry() throws Exception {
        worker.script(n -> new FakeWorker.Reply(400, null, 0, 0));
        worker.start();
        String id = createJobs(1).get(0);
        awaitAllTerminalExactlyOnce(1);
        assertThat(count("status = 'FAILED'")).isEqualTo(1);
        String error = jdbc.queryForObject("SELECT error->>'kind' FROM jobs WHERE id = ?::uuid", String.class, id);
        assertThat(error).isEqualTo("invalid");
        Thread.sleep(300);
        assertThat(worker.callsFor(id)).hasSize(1);
    }

    @Test
    void rejectionWhoseBodyHasNulStillFailsTheJobOnce() throws Exception {
        // U+0000 cannot go into jsonb: without care the FAILED update fails, the lease expires and
        // the job is dispatched, rejected and failed to record again, forever.
        worker.script(n -> new FakeWorker.Reply(400, null, 0, 0, "{\"error\":\"bad\u0000byte\"}"));
        worker.start();
        String id = createJobs(1).get(0);
        awaitAllTerminalExactlyOnce(1);
        String message = jdbc.queryForObject("SELECT error->>'message' FROM jobs WHERE id = ?::uuid", String.class, id);
        assertThat(message).isEqualTo("worker rejected the job: {\"error\":\"bad\uFFFDbyte\"}");
        assertThat(worker.callsFor(id)).hasSize(1);
    }

    @Test
    void staleInFlightJobIsDispatchedAgain() throws Exception {
        // First dispatch is accepted but the worker dies with it (no result); after the stale timeout core sends it again.
        worker.script(n -> (n == 1) ? new FakeWorker.Reply(202, null, 0, 0) : FakeWorker.Reply.accept());
        worker.start();
        double redispatched = meters.counter("core.jobs.redispatched").count();
        String id = createJobs(1).get(0);
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() -> assertThat(count("status = 'DISPATCHED'")).isEqualTo(1));

        awaitAllTerminalExactlyOnce(1);
        List<FakeWorker.Call> calls = worker.callsFor(id);
        assertThat(calls).hasSize(2);
        assertThat(calls.get(1).attempt()).isEqualTo(2);
        assertThat(TimeUnit.NANOSECONDS.toMillis(calls.get(1).atNanos() - calls.get(0).atNanos())).isGreaterThanOrEqualTo(1400);
        assertThat(meters.counter("core.jobs.redispatched").count() - redispatched).isEqualTo(1);
        assertThat(jdbc.queryForObject("SELECT status FROM jobs WHERE id = ?::uuid", String.class, id)).isEqualTo("SUCCEEDED");
    }

    @Test
    void poisonJobFailsAfterMaxDispatches(CapturedOutput output) throws Exception {
        // The worker takes the job and dies with it every time (crash, OOM kill): no result, ever.
        worker.script(n -> new FakeWorker.Reply(202, null, 0, 0));
        worker.start();
        double exhausted = meters.counter("core.jobs.dispatch.exhausted").count();
        String id = createJobs(1).get(0);

        // 3 deliveries, each followed by the 1.5 s stale timeout, then FAILED instead of a 4th.
        awaitAllTerminalExactlyOnce(1);
        String stored = jdbc.queryForObject("SELECT status FROM jobs WHERE id = ?::uuid", String.class, id);
        assertThat(stored).isEqualTo("FAILED");
        assertThat(jdbc.queryForObject("SELECT error::text FROM jobs WHERE id = ?::uuid", String.class, id)).isEqualTo(
                "{\"kind\": \"dispatch_exhausted\", \"message\": \"no result after 3 dispatches (stale timeout 1500ms each)\"}");
        assertThat(jdbc.queryForObject("SELECT finished_at IS NOT NULL FROM jobs WHERE id = ?::uuid", Boolean.class, id)).isTrue();
        assertThat(meters.counter("core.jobs.dispatch.exhausted").count() - exhausted).isEqualTo(1);
        assertThat(output.getOut()).contains("\"msg\":\"job dispatch exhausted; marked FAILED\"");
        // Exactly 3 calls, and no 4th can follow without waiting for one: the dispatcher only sends jobs that
        // have an outbox row and the sweep only re-queues DISPATCHED jobs, so a FAILED job with an empty
        // outbox (checked above) is never sent again. The 3rd call reached the worker before the job became
        // DISPATCHED for the 3rd time, so it is already counted. (A late result for such a job:
        // StaleSweepIntegrationTest.aLateResultForAnExhaustedJobChangesNothing.)
        assertThat(jdbc.queryForObject("SELECT count(*) FROM outbox", Long.class)).isZero();
        assertThat(worker.callsFor(id)).hasSize(3);
    }

    @Test
    void refusedDispatchesDoNotCountTowardsMaxDispatches() throws Exception {
        // The worker is down long enough for more failed attempts than the cap (3), then takes the job once
        // and dies with it: that is one delivery, so the job is re-queued, not failed, and then succeeds.
        String id = createJobs(1).get(0);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
            assertThat(jdbc.queryForObject("SELECT dispatch_count FROM jobs WHERE id = ?::uuid", Integer.class, id))
                .isGreaterThanOrEqualTo(4));
        worker.script(n -> (n == 1) ? new FakeWorker.Reply(202, null, 0, 0) : FakeWorker.Reply.accept());
        worker.start();

        awaitAllTerminalExactlyOnce(1);
        assertThat(jdbc.queryForObject("SELECT status FROM jobs WHERE id = ?::uuid", String.class, id)).isEqualTo("SUCCEEDED");
        assertThat(worker.callsFor(id)).hasSize(2);
        assertThat(worker.callsFor(id).get(0).attempt()).isGreaterThanOrEqualTo(5);
    }
}
