package lab.infra.core.jobs;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.core.RowMapper;
import org.springframework.stereotype.Repository;

/** Plain SQL over {@code jobs} and {@code outbox}; callers own the transactions. */
@Repository
class JobRepository {

    private static final String COLUMNS = "id, type, payload::text AS payload, status, idempotency_key, request_hash, "
            + "request_id, dispatch_count, result::text AS result, error::text AS error, created_at, updated_at, "
            + "dispatched_at, finished_at";

    private static final RowMapper<Job> JOB = JobRepository::mapJob;

    /** A claimed outbox entry with what the dispatch call needs. */
    record Claimed(UUID jobId, String type, String payload, JobStatus status, String requestId, int attempt,
            int outboxAttempts) {
    }

    record Stats(Map<JobStatus, Long> counts, long outboxSize, double outboxLagSeconds) {
    }

    /** A stale job the sweep gave up on: how often a worker took it, and the request that created it. */
    record Exhausted(UUID jobId, int deliveries, String requestId) {
    }

    private final JdbcTemplate jdbc;

    JobRepository(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    /** Inserts a PENDING job; false when the idempotency key is already taken. */
    boolean insert(UUID id, JobRequestParser.JobRequest request, String idempotencyKey, String requestId) {
        int rows = jdbc.update("INSERT INTO jobs (id, type, payload, status, idempotency_key, request_hash, request_id) "
                + "VALUES (?, ?, ?::jsonb, 'PENDING', ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
                id, request.type(), request.payloadJson(), idempotencyKey, request.hash(), requestId);
        return rows == 1;
    }

    void insertOutbox(UUID jobId) {
        jdbc.update("INSERT INTO outbox (job_id) VALUES (?) ON CONFLICT (job_id) DO NOTHING", jobId);
    }

    Optional<Job> find(UUID id) {
        return jdbc.query("SELECT " + COLUMNS + " FROM jobs WHERE id = ?", JOB, id).stream().findFirst();
    }

    Optional<Job> findByIdempotencyKey(String key) {
        return jdbc.query("SELECT " + COLUMNS + " FROM jobs WHERE idempotency_key = ?", JOB, key).stream().findFirst();
    }

    /** Newest first; {@code after} is the (created_at, id) of the last row of the previous page. */
    List<Job> list(JobStatus status, Instant afterCreated, UUID afterId, int limit) {
        StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM jobs WHERE true");
        List<Object> args = new ArrayList<>();
        if (status != null) {
            sql.append(" AND status = ?");
            args.add(status.name());
        }
        if (afterCreated != null) {
            sql.append(" AND (created_at, id) < (?, ?)");
            args.add(Timestamp.from(afterCreated));
            args.add(afterId);
        }
        sql.append(" ORDER BY created_at DESC, id DESC LIMIT ?");
        args.add(limit);
        return jdbc.query(sql.toString(), JOB, args.toArray());
    }

    Stats stats() {
        Map<JobStatus, Long> counts = new EnumMap<>(JobStatus.class);
        for (JobStatus status : JobStatus.values()) {
            counts.put(status, 0L);
        }
        jdbc.query("SELECT status, count(*) FROM jobs GROUP BY status",
                (ResultSet rs) -> {
                    JobStatus status = JobStatus.parse(rs.getString(1));
                    if (status != null) {
                        counts.put(status, rs.getLong(2));
                    }
                });
        return jdbc.queryForObject("SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) FROM outbox",
                (rs, n) -> new Stats(counts, rs.getLong(1), rs.getDouble(2)));
    }

    /**
     * Claims up to {@code limit} due outbox rows for this poller: each becomes invisible to other
     * pollers for {@code lease} (a crash mid-call only delays the job) and counts one dispatch attempt.
     */
    List<Claimed> claimDue(int limit, Duration lease) {
        return jdbc.query("""
                WITH claimed AS (
                    UPDATE outbox SET attempts = attempts + 1, next_attempt_at = now() + ?::float8 * interval '1 millisecond'
                    WHERE job_id IN (SELECT job_id FROM outbox WHERE next_attempt_at <= now()
                                     ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED)
                    RETURNING job_id, attempts
                ), counted AS (
                    UPDATE jobs j SET dispatch_count = j.dispatch_count + 1 FROM claimed c WHERE j.id = c.job_id
                    RETURNING j.id, j.type, j.payload::text AS payload, j.status, j.request_id, j.dispatch_count,
                              c.attempts
                )
                SELECT * FROM counted
                """,
                (rs, n) -> new Claimed(rs.getObject("id", UUID.class), rs.getString("type"), rs.getString("payload"),
                        JobStatus.valueOf(rs.getString("status")), rs.getString("request_id"),
                        rs.getInt("dispatch_count"), rs.getInt("attempts")),
                lease.toMillis(), limit);
    }

    void deleteOutbox(UUID jobId) {
        jdbc.update("DELETE FROM outbox WHERE job_id = ?", jobId);
    }

    /** The worker has the job (one more delivery); no-op when the result already arrived. */
    void markDispatched(UUID jobId) {
        jdbc.update("UPDATE jobs SET status = 'DISPATCHED', deliveries = deliveries + 1, dispatched_at = now(), "
                + "updated_at = now() WHERE id = ? AND status = 'PENDING'", jobId);
    }

    void reschedule(UUID jobId, Duration delay, String lastError) {
        jdbc.update("UPDATE outbox SET next_attempt_at = now() + ?::float8 * interval '1 millisecond', last_error = ? "
                + "WHERE job_id = ?", delay.toMillis(), lastError, jobId);
    }

    /** First terminal state wins: true only for the call that made the job terminal. */
    boolean finish(UUID jobId, JobStatus status, String resultJson, String errorJson) {
        return jdbc.update("UPDATE jobs SET status = ?, result = ?::jsonb, error = ?::jsonb, finished_at = now(), "
                + "updated_at = now() WHERE id = ? AND status IN ('PENDING', 'DISPATCHED')",
                status.name(), resultJson, errorJson, jobId) == 1;
    }

    /**
     * DISPATCHED jobs without a result for {@code staleTimeout} that workers have already taken
     * {@code maxDeliveries} times become FAILED ({@code dispatch_exhausted}); no outbox row is written
     * for them. Run it before {@link #requeueStale} in the same transaction (the sweep does).
     */
    List<Exhausted> failExhausted(Duration staleTimeout, int maxDeliveries, String staleTimeoutText) {
        return jdbc.query("""
                UPDATE jobs SET status = 'FAILED', finished_at = now(), updated_at = now(),
                    error = jsonb_build_object('kind', 'dispatch_exhausted', 'message',
                        format('no result after %s dispatches (stale timeout %s each)', deliveries, ?::text))
                WHERE status = 'DISPATCHED' AND dispatched_at < now() - ?::float8 * interval '1 millisecond'
                  AND deliveries >= ?
                RETURNING id, deliveries, request_id
                """,
                (rs, n) -> new Exhausted(rs.getObject("id", UUID.class), rs.getInt("deliveries"),
                        rs.getString("request_id")),
                staleTimeoutText, staleTimeout.toMillis(), maxDeliveries);
    }

    /**
     * DISPATCHED jobs without a result for {@code staleTimeout} go back to PENDING with a new outbox row
     * (only those taken fewer than {@code maxDeliveries} times: the others are {@link #failExhausted}).
     */
    int requeueStale(Duration staleTimeout, int maxDeliveries) {
        return jdbc.update("""
                WITH stale AS (
                    UPDATE jobs SET status = 'PENDING', updated_at = now()
                    WHERE status = 'DISPATCHED' AND dispatched_at < now() - ?::float8 * interval '1 millisecond'
                      AND deliveries < ?
                    RETURNING id
                )
                INSERT INTO outbox (job_id) SELECT id FROM stale ON CONFLICT (job_id) DO NOTHING
                """, staleTimeout.toMillis(), maxDeliveries);
    }

    private static Job mapJob(ResultSet rs, int row) throws SQLException {
        return new Job(rs.getObject("id", UUID.class), rs.getString("type"), rs.getString("payload"),
                JobStatus.valueOf(rs.getString("status")), rs.getString("idempotency_key"),
                rs.getString("request_hash"), rs.getString("request_id"), rs.getInt("dispatch_count"),
                rs.getString("result"), rs.getString("error"), instant(rs, "created_at"), instant(rs, "updated_at"),
                instant(rs, "dispatched_at"), instant(rs, "finished_at"));
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        Timestamp ts = rs.getTimestamp(column);
        return (ts == null) ? null : ts.toInstant();
    }
}
