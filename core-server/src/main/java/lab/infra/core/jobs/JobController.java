package lab.infra.core.jobs;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.servlet.http.HttpServletRequest;
import lab.infra.core.requestid.RequestIds;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/** Public jobs API under /api/jobs (routed by nginx). Every error is problem+json. */
@RestController
@RequestMapping("/api/jobs")
class JobController {

    private static final Logger log = LoggerFactory.getLogger(JobController.class);
    private static final Pattern IDEMPOTENCY_KEY = Pattern.compile("[\\x21-\\x7E]{1,255}");
    static final int DEFAULT_LIMIT = 20;
    static final int MAX_LIMIT = 100;

    private final JobService service;
    private final JobRequestParser parser;
    private final JobDispatcher dispatcher;

    JobController(JobService service, ObjectMapper objectMapper, JobDispatcher dispatcher) {
        this.service = service;
        this.parser = new JobRequestParser(objectMapper);
        this.dispatcher = dispatcher;
    }

    @PostMapping
    ResponseEntity<Map<String, Object>> create(HttpServletRequest request) throws IOException {
        checkContentType(request.getContentType());
        String key = request.getHeader("Idempotency-Key");
        if (key != null && !IDEMPOTENCY_KEY.matcher(key).matches()) {
            throw JobApiException.badRequest("Idempotency-Key", "must be 1 to 255 visible ASCII characters");
        }
        JobRequestParser.JobRequest job = parser.parse(readBody(request));
        JobService.Accepted accepted = service.accept(job, key, MDC.get(RequestIds.MDC_KEY));
        UUID id = accepted.job().id();
        log.atInfo().addKeyValue("job_id", id.toString()).addKeyValue("type", job.type())
            .addKeyValue("replayed", accepted.replayed()).log(accepted.replayed() ? "job replayed" : "job accepted");
        if (!accepted.replayed()) {
            dispatcher.nudge();
        }
        String location = "/api/jobs/" + id;
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("id", id.toString());
        body.put("status", accepted.job().status().name());
        body.put("location", location);
        ResponseEntity.BodyBuilder response = ResponseEntity.status(HttpStatus.ACCEPTED).location(URI.create(location));
        if (accepted.replayed()) {
            response.header("Idempotent-Replayed", "true");
        }
        return response.body(body);
    }

    @GetMapping("/{id}")
    Job.View get(@PathVariable("id") String id) {
        UUID uuid = parseId(id);
        return service.find(uuid).map(Job::view)
            .orElseThrow(() -> JobApiException.notFound("id: no job with id " + uuid));
    }

    @GetMapping
    Map<String, Object> list(@RequestParam(name = "status", required = false) String status,
            @RequestParam(name = "limit", required = false) String limit,
            @RequestParam(name = "cursor", required = false) String cursor) {
        JobStatus statusFilter = null;
        if (status != null && !status.isEmpty()) {
            statusFilter = JobStatus.parse(status.toUpperCase());
            if (statusFilter == null) {
                throw JobApiException.badRequest("status", "unknown status '" + status
                        + "' (known: PENDING, DISPATCHED, SUCCEEDED, FAILED)");
            }
        }
        int pageSize = DEFAULT_LIMIT;
        if (limit != null) {
            try {
                pageSize = Integer.parseInt(limit);
            } catch (NumberFormatException ex) {
                throw JobApiException.badRequest("limit", "must be an integer between 1 and " + MAX_LIMIT);
            }
            if (pageSize < 1 || pageSize > MAX_LIMIT) {
                throw JobApiException.badRequest("limit", "must be between 1 and " + MAX_LIMIT + ", got " + pageSize);
            }
        }
        JobService.Page page = service.list(statusFilter, pageSize, (cursor == null || cursor.isEmpty()) ? null : cursor);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("items", page.jobs().stream().map(Job::view).toList());
        body.put("next_cursor", page.nextCursor());
        return body;
    }

    /** Synchronous database read on the user path: DB faults and latency show in this endpoint. */
    @GetMapping("/stats")
    Map<String, Object> stats() {
        JobRepository.Stats stats = service.stats();
        Map<String, Object> counts = new LinkedHashMap<>();
        long total = 0;
        for (JobStatus status : JobStatus.values()) {
            long count = stats.counts().get(status);
            counts.put(status.name(), count);
            total += count;
        }
        Map<String, Object> outbox = new LinkedHashMap<>();
        outbox.put("size", stats.outboxSize());
        outbox.put("lag_seconds", Math.round(stats.outboxLagSeconds() * 1000) / 1000.0);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("counts", counts);
        body.put("total", total);
        body.put("outbox", outbox);
        return body;
    }

    static UUID parseId(String id) {
        try {
            if (id.length() == 36) {
                return UUID.fromString(id);
            }
        } catch (IllegalArgumentException ex) {
            // fall through
        }
        throw JobApiException.badRequest("id", "must be a UUID like 3f2b9c1e-8d4a-4b6f-9e2a-1c5d7e9f0a1b");
    }

    private static void checkContentType(String contentType) {
        if (contentType == null) {
            return;
        }
        try {
            MediaType type = MediaType.parseMediaType(contentType);
            if (type.isCompatibleWith(MediaType.APPLICATION_JSON) || type.getSubtype().endsWith("+json")) {
                return;
            }
        } catch (RuntimeException ex) {
            // fall through
        }
        throw new JobApiException(HttpStatus.UNSUPPORTED_MEDIA_TYPE,
                "Content-Type: must be application/json, got " + contentType);
    }

    private static byte[] readBody(HttpServletRequest request) throws IOException {
        long declared = request.getContentLengthLong();
        if (declared > JobRequestParser.MAX_BODY_BYTES) {
            throw JobRequestParser.tooLarge("body: must be at most " + JobRequestParser.MAX_BODY_BYTES
                    + " bytes, got " + declared);
        }
        try (InputStream in = request.getInputStream()) {
            return in.readNBytes(JobRequestParser.MAX_BODY_BYTES + 1);
        }
    }
}
