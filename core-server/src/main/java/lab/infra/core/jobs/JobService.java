package lab.infra.core.jobs;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/** Job acceptance (job + outbox row in one transaction), reads and the idempotent result update. */
@Service
public class JobService {

    private static final Logger log = LoggerFactory.getLogger(JobService.class);

    record Accepted(Job job, boolean replayed) {
    }

    record Page(List<Job> jobs, String nextCursor) {
    }

    private final JobRepository repository;
    private final MeterRegistry meters;

    JobService(JobRepository repository, MeterRegistry meters) {
        this.repository = repository;
        this.meters = meters;
    }

    @Transactional
    public Accepted accept(JobRequestParser.JobRequest request, String idempotencyKey, String requestId) {
        UUID id = UUID.randomUUID();
        if (repository.insert(id, request, idempotencyKey, requestId)) {
            repository.insertOutbox(id);
            meters.counter("core.jobs.accepted", "type", request.type()).increment();
            return new Accepted(repository.find(id).orElseThrow(), false);
        }
        Job existing = repository.findByIdempotencyKey(idempotencyKey).orElseThrow();
        if (!existing.requestHash().equals(request.hash())) {
            throw new JobApiException(HttpStatus.UNPROCESSABLE_ENTITY, "Idempotency-Key: already used for a different "
                    + "request (job " + existing.id() + "); use a new key for a new job");
        }
        return new Accepted(existing, true);
    }

    @Transactional(readOnly = true)
    public Optional<Job> find(UUID id) {
        return repository.find(id);
    }

    @Transactional(readOnly = true)
    public Page list(JobStatus status, int limit, String cursor) {
        Instant afterCreated = null;
        UUID afterId = null;
        if (cursor != null) {
            Object[] decoded = decodeCursor(cursor);
            afterCreated = (Instant) decoded[0];
            afterId = (UUID) decoded[1];
        }
        List<Job> rows = repository.list(status, afterCreated, afterId, limit + 1);
        if (rows.size() <= limit) {
            return new Page(rows, null);
        }
        List<Job> page = rows.subList(0, limit);
        Job last = page.get(limit - 1);
        return new Page(page, encodeCursor(last.createdAt(), last.id()));
    }

    @Transactional(readOnly = true)
    public JobRepository.Stats stats() {
        return repository.stats();
    }

    /**
     * Applies a worker's result. The first terminal result wins; repeats and late duplicates
     * change nothing and get the stored state.
     *
     * @return the job after the update, empty when the job is unknown
     */
    @Transactional
    public Optional<Job> applyResult(UUID id, JobStatus status, String resultJson, String errorJson) {
        // Lock order everywhere is outbox row, then jobs row (the dispatcher does the same): no deadlocks.
        // A terminal job never needs its outbox row, so deleting it first is right even for a duplicate.
        repository.deleteOutbox(id);
        boolean applied = repository.finish(id, status, resultJson, errorJson);
        Optional<Job> job = repository.find(id);
        if (applied) {
            meters.counter("core.jobs.finished", "status", status.name(), "source", "worker").increment();
            log.atInfo().addKeyValue("job_id", id.toString()).addKeyValue("status", status.name())
                .log("job finished");
        } else if (job.isPresent()) {
            meters.counter("core.jobs.results.duplicate").increment();
            log.atInfo().addKeyValue("job_id", id.toString()).addKeyValue("status", job.get().status().name())
                .addKeyValue("reported_status", status.name()).log("duplicate job result ignored");
        }
        return job;
    }

    static String encodeCursor(Instant createdAt, UUID id) {
        String raw = createdAt.getEpochSecond() + "." + createdAt.getNano() + "." + id;
        return Base64.getUrlEncoder().withoutPadding().encodeToString(raw.getBytes(StandardCharsets.UTF_8));
    }

    static Object[] decodeCursor(String cursor) {
        try {
            String raw = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8);
            String[] parts = raw.split("\\.", 3);
            if (parts.length != 3) {
                throw new IllegalArgumentException();
            }
            Instant createdAt = Instant.ofEpochSecond(Long.parseLong(parts[0]), Long.parseLong(parts[1]));
            return new Object[] {createdAt, UUID.fromString(parts[2])};
        } catch (RuntimeException ex) {
            throw JobApiException.badRequest("cursor", "not a cursor from a previous page's next_cursor");
        }
    }
}
