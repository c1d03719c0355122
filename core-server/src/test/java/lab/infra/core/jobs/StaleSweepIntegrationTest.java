package lab.infra.core.jobs;

import static lab.infra.core.testsupport.TestHttp.JSON;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.util.List;
import java.util.UUID;

import com.fasterxml.jackson.databind.JsonNode;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
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
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * The stale sweep against the real PostgreSQL, row by row: with the default settings (stale timeout
 * 120 s, max dispatches 5) a stale DISPATCHED job that workers took 5 times or more becomes FAILED
 * (dispatch_exhausted) without an outbox row, the others are re-queued as before. Dispatch is off in
 * this context (same one as JobsApiIntegrationTest), so the test runs the sweep itself.
 */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT, properties = "management.server.port=0")
@AutoConfigureObservability(tracing = false)
@ExtendWith(OutputCaptureExtension.class)
class StaleSweepIntegrationTest {

    @LocalServerPort
    private int appPort;

    @Autowired
    private JdbcTemplate jdbc;

    @Autowired
    private JobDispatcher dispatcher;

    @Autowired
    private MeterRegistry meters;

    @Autowired
    private JobsProperties properties;

    @BeforeEach
    void clean() {
        jdbc.execute("TRUNCATE jobs CASCADE");
    }

    /** A DISPATCHED job (no outbox row, as after a 202) taken {@code deliveries} times, last at now() - age. */
    private UUID dispatched(int deliveries, int dispatchCount, String age) {
        UUID id = UUID.randomUUID();
        jdbc.update("INSERT INTO jobs (id, type, payload, status, request_id, dispatch_count, deliveries, dispatched_at) "
                + "VALUES (?, 'quote', '{\"n\":1}', 'DISPATCHED', ?, ?, ?, now() - ?::interval)",
                id, "req-" + id, dispatchCount, deliveries, age);
        return id;
    }

    private String status(UUID id) {
        return jdbc.queryForObject("SELECT status FROM jobs WHERE id = ?", String.class, id);
    }

    private List<UUID> outbox() {
        return jdbc.queryForList("SELECT job_id FROM outbox ORDER BY job_id", UUID.class);
    }

    private double counter(String name, String... tags) {
        Counter counter = meters.find(name).tags(tags).counter();
        return (counter == null) ? 0 : counter.count();
    }

    private JsonNode view(UUID id) throws Exception {
        HttpResponse<String> response = TestHttp.send(appPort, "GET", "/api/jobs/" + id, null);
        assertThat(response.statusCode()).isEqualTo(200);
        return JSON.readTree(response.body());
    }

    @Test
    void jobsTakenMaxDispatchesTimesFailInsteadOfBeingRequeued(CapturedOutput output) throws Exception {
        assertThat(properties.dispatch().maxDispatches()).isEqualTo(5);
        double exhausted = counter("core.jobs.dispatch.exhausted");
        double failed = counter("core.jobs.finished", "status", "FAILED", "source", "dispatch");
        double redispatched = counter("core.jobs.redispatched");

        UUID atCap = dispatched(5, 5, "10 minutes");
        UUID overCap = dispatched(7, 9, "10 minutes");     // e.g. the cap was lowered while it was in flight
        UUID belowCap = dispatched(4, 4, "10 minutes");
        UUID atCapNotStale = dispatched(5, 5, "1 second");  // its 5th delivery may still answer
        // Many refused connections or 429/503 before one worker took it: attempts, not deliveries.
        UUID manyRefusals = dispatched(1, 40, "10 minutes");

        assertThat(dispatcher.sweepStale()).isEqualTo(2);

        for (UUID id : List.of(atCap, overCap)) {
            JsonNode job = view(id);
            assertThat(job.get("status").asText()).isEqualTo("FAILED");
            assertThat(job.get("error").get("kind").asText()).isEqualTo("dispatch_exhausted");
            assertThat(job.get("finished_at").isNull()).isFalse();
            assertThat(job.get("result").isNull()).isTrue();
        }
        assertThat(view(atCap).get("error")).isEqualTo(JSON.readTree(
                "{\"kind\":\"dispatch_exhausted\",\"message\":\"no result after 5 dispatches (stale timeout 120s each)\"}"));
        assertThat(view(overCap).get("error").get("message").asText())
            .isEqualTo("no result after 7 dispatches (stale timeout 120s each)");
        assertThat(status(belowCap)).isEqualTo("PENDING");
        assertThat(status(manyRefusals)).isEqualTo("PENDING");
        assertThat(status(atCapNotStale)).isEqualTo("DISPATCHED");
        // Re-queued jobs get an outbox row, the exhausted ones do not.
        assertThat(outbox()).containsExactlyInAnyOrder(belowCap, manyRefusals);

        assertThat(counter("core.jobs.dispatch.exhausted") - exhausted).isEqualTo(2);
        assertThat(counter("core.jobs.finished", "status", "FAILED", "source", "dispatch") - failed).isEqualTo(2);
        assertThat(counter("core.jobs.redispatched") - redispatched).isEqualTo(2);

        // One warn line per exhausted job, with its job_id and the request that created it.
        for (UUID id : List.of(atCap, overCap)) {
            List<JsonNode> lines = output.getOut().lines().filter(l -> l.contains("job dispatch exhausted"))
                .map(StaleSweepIntegrationTest::parse).filter(l -> l.get("job_id").asText().equals(id.toString()))
                .toList();
            assertThat(lines).hasSize(1);
            assertThat(lines.get(0).get("level").asText()).isEqualTo("warn");
            assertThat(lines.get(0).get("request_id").asText()).isEqualTo("req-" + id);
            assertThat(lines.get(0).get("max_dispatches").asInt()).isEqualTo(5);
        }

        // Terminal jobs are left alone by the next sweep.
        assertThat(dispatcher.sweepStale()).isZero();
        assertThat(counter("core.jobs.dispatch.exhausted") - exhausted).isEqualTo(2);
    }

    @Test
    void aLateResultForAnExhaustedJobChangesNothing() throws Exception {
        UUID id = dispatched(5, 5, "10 minutes");
        dispatcher.sweepStale();
        JsonNode failed = view(id);
        assertThat(failed.get("status").asText()).isEqualTo("FAILED");
        double duplicates = counter("core.jobs.results.duplicate");
        double finished = counter("core.jobs.finished", "status", "SUCCEEDED", "source", "worker");

        // The worker (or a previous instance of it) finally reports: first terminal result wins.
        HttpResponse<String> late = TestHttp.send(appPort, "PUT", "/internal/jobs/" + id + "/result",
                "{\"job_id\":\"" + id + "\",\"status\":\"SUCCEEDED\",\"result\":{\"price\":1},\"error\":null,\"attempt\":5}");
        assertThat(late.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(late.body())).isEqualTo(failed);
        assertThat(view(id)).isEqualTo(failed);
        assertThat(counter("core.jobs.results.duplicate") - duplicates).isEqualTo(1);
        assertThat(counter("core.jobs.finished", "status", "SUCCEEDED", "source", "worker") - finished).isZero();
        assertThat(outbox()).isEmpty();
    }

    private static JsonNode parse(String line) {
        try {
            return JSON.readTree(line);
        } catch (Exception ex) {
            throw new AssertionError(line, ex);
        }
    }
}
