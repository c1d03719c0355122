package lab.infra.core.jobs;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.enums.ParameterIn;
import io.swagger.v3.oas.annotations.headers.Header;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.parameters.RequestBody;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.servlet.http.HttpServletRequest;
import lab.infra.core.openapi.OpenApiResponses;
import lab.infra.core.requestid.RequestIds;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * Public jobs API under /api/jobs (routed by nginx). Every error is problem+json. The OpenAPI
 * annotations feed the checked-in contract (see lab.infra.core.openapi); bodies are parsed by hand.
 */
@RestController
@RequestMapping("/api/jobs")
@Tag(name = "jobs")
class JobController {

    private static final Logger log = LoggerFactory.getLogger(JobController.class);
    /** 1..255 visible ASCII characters; also the header's pattern in the OpenAPI document. */
    static final String IDEMPOTENCY_KEY_REGEX = "^[!-~]{1,255}$";
    private static final Pattern IDEMPOTENCY_KEY = Pattern.compile(IDEMPOTENCY_KEY_REGEX);
    static final int DEFAULT_LIMIT = 20;
    static final int MAX_LIMIT = 100;
    /** JobStatus.parseIgnoreCase (ASCII letters only), spelled as a schema pattern (no regex flags in JSON Schema). */
    static final String STATUS_PATTERN = "^(|[Pp][Ee][Nn][Dd][Ii][Nn][Gg]|[Dd][Ii][Ss][Pp][Aa][Tt][Cc][Hh][Ee][Dd]"
            + "|[Ss][Uu][Cc][Cc][Ee][Ee][Dd][Ee][Dd]|[Ff][Aa][Ii][Ll][Ee][Dd])$";

    private final JobService service;
    private final JobRequestParser parser;
    private final JobDispatcher dispatcher;

    JobController(JobService service, ObjectMapper objectMapper, JobDispatcher dispatcher) {
        this.service = service;
        this.parser = new JobRequestParser(objectMapper);
        this.dispatcher = dispatcher;
    }

    @PostMapping
    @Operation(summary = "Submit a job", description = "Stores the job and its outbox row in one transaction; "
            + "dispatch to worker-server follows asynchronously. The body is read as JSON whatever the "
            + "Content-Type says, unless that names a non-JSON type (415).")
    @RequestBody(required = true, content = @Content(mediaType = MediaType.APPLICATION_JSON_VALUE,
            schema = @Schema(implementation = JobCreateRequest.class)))
    @Parameter(name = "Idempotency-Key", in = ParameterIn.HEADER, description = "Retries with the same key and body "
            + "get the same job (202, Idempotent-Replayed: true); the same key with another body is 422.",
            schema = @Schema(type = "string", minLength = 1, maxLength = 255, pattern = IDEMPOTENCY_KEY_REGEX))
    @ApiResponse(responseCode = "202", description = "Accepted, or replayed for a known Idempotency-Key",
            headers = {
                @Header(name = HttpHeaders.LOCATION, required = true, schema = @Schema(type = "string"),
                        description = "/api/jobs/{id}"),
                @Header(name = "Idempotent-Replayed", schema = @Schema(type = "string", allowableValues = "true"),
                        description = "Present on a replay")})
    @ApiResponse(responseCode = "400", ref = OpenApiResponses.BAD_REQUEST)
    @ApiResponse(responseCode = "413", ref = OpenApiResponses.PAYLOAD_TOO_LARGE)
    @ApiResponse(responseCode = "415", ref = OpenApiResponses.UNSUPPORTED_MEDIA_TYPE)
    @ApiResponse(responseCode = "422", ref = OpenApiResponses.IDEMPOTENCY_KEY_REUSED)
    @ApiResponse(responseCode = "503", ref = OpenApiResponses.DATABASE_UNAVAILABLE)
    ResponseEntity<JobAccepted> create(HttpServletRequest request) throws IOException {
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
        JobAccepted body = new JobAccepted(id.toString(), accepted.job().status().name(), location);
        ResponseEntity.BodyBuilder response = ResponseEntity.status(HttpStatus.ACCEPTED).location(URI.create(location));
        if (accepted.replayed()) {
            response.header("Idempotent-Replayed", "true");
        }
        return response.body(body);
    }

    @GetMapping("/{id}")
    @Operation(summary = "Get one job")
    @ApiResponse(responseCode = "200", description = "The job")
    @ApiResponse(responseCode = "400", ref = OpenApiResponses.BAD_REQUEST)
    @ApiResponse(responseCode = "404", ref = OpenApiResponses.NOT_FOUND)
    @ApiResponse(responseCode = "503", ref = OpenApiResponses.DATABASE_UNAVAILABLE)
    Job.View get(@Parameter(description = "Job id (anything else is 400)", schema = @Schema(format = "uuid"))
            @PathVariable("id") String id) {
        UUID uuid = parseId(id);
        return service.find(uuid).map(Job::view)
            .orElseThrow(() -> JobApiException.notFound("id: no job with id " + uuid));
    }

    @GetMapping
    @Operation(summary = "List jobs, newest first",
            description = "Keyset pagination: pass next_cursor as cursor; jobs created meanwhile do not shift pages.")
    @ApiResponse(responseCode = "200", description = "One page")
    @ApiResponse(responseCode = "400", ref = OpenApiResponses.BAD_REQUEST)
    @ApiResponse(responseCode = "503", ref = OpenApiResponses.DATABASE_UNAVAILABLE)
    JobPage list(
            @Parameter(description = "Only jobs in this status (case-insensitive; empty means any)",
                    schema = @Schema(type = "string", pattern = STATUS_PATTERN))
            @RequestParam(name = "status", required = false) String status,
            @Parameter(description = "Page size", schema = @Schema(type = "integer", minimum = "1",
                    maximum = "" + MAX_LIMIT, defaultValue = "" + DEFAULT_LIMIT))
            @RequestParam(name = "limit", required = false) String limit,
            @Parameter(description = "next_cursor of the previous page (empty means the first page)")
            @RequestParam(name = "cursor", required = false) String cursor) {
        JobStatus statusFilter = null;
        if (status != null && !status.isEmpty()) {
            statusFilter = JobStatus.parseIgnoreCase(status);
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
        return new JobPage(page.jobs().stream().map(Job::view).toList(), page.nextCursor());
    }

    /** Synchronous database read on the user path: DB faults and latency show in this endpoint. */
    @GetMapping("/stats")
    @Operation(summary = "Job counts and dispatch backlog",
            description = "Reads the database synchronously on every request: database faults show here.")
    @ApiResponse(responseCode = "200", description = "Counts")
    @ApiResponse(responseCode = "503", ref = OpenApiResponses.DATABASE_UNAVAILABLE)
    JobStats stats() {
        JobRepository.Stats stats = service.stats();
        Map<JobStatus, Long> counts = stats.counts();
        JobStats.Counts byStatus = new JobStats.Counts(counts.get(JobStatus.PENDING), counts.get(JobStatus.DISPATCHED),
                counts.get(JobStatus.SUCCEEDED), counts.get(JobStatus.FAILED));
        long total = counts.values().stream().mapToLong(Long::longValue).sum();
        JobStats.Outbox outbox = new JobStats.Outbox(stats.outboxSize(),
                Math.round(stats.outboxLagSeconds() * 1000) / 1000.0);
        return new JobStats(byStatus, total, outbox);
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
