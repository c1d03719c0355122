package lab.infra.core.jobs;

import java.io.IOException;
import java.util.UUID;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import lab.infra.core.web.MalformedJson;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/**
 * Result callback of worker-server (docs/contracts/core-worker.md) on the app port. nginx refuses
 * every /internal/ path from outside, so only the lab network reaches it. Idempotent: the first
 * terminal result wins, repeats get 200 with the stored job; an unknown job is 404 (the worker
 * stops retrying then).
 *
 * <p>A result PostgreSQL cannot store (U+0000 anywhere in it, see {@link Jsonb}) is still answered
 * 200: the worker retries every other answer and core re-dispatches after that, forever, for a
 * result that will never change. Instead the job becomes FAILED with kind {@code invalid}; U+0000
 * in a FAILED job's error becomes U+FFFD and the worker's error is kept.
 */
@RestController
class JobResultController {

    private static final Logger log = LoggerFactory.getLogger(JobResultController.class);

    private final JobService service;
    private final ObjectReader reader;

    JobResultController(JobService service, ObjectMapper objectMapper) {
        this.service = service;
        this.reader = MalformedJson.strictReader(objectMapper);
    }

    @PutMapping("/internal/jobs/{id}/result")
    Job.View result(@PathVariable("id") String id, @RequestBody(required = false) byte[] body) {
        UUID jobId;
        try {
            jobId = UUID.fromString(id);
        } catch (IllegalArgumentException ex) {
            throw JobApiException.notFound("id: no job with id " + id);
        }
        MDC.put("job_id", jobId.toString());
        try {
            JsonNode root = parse(body);
            JsonNode bodyId = root.get("job_id");
            if (bodyId != null && !bodyId.isNull() && !jobId.toString().equalsIgnoreCase(bodyId.asText())) {
                throw JobApiException.badRequest("job_id", "does not match the job id in the path");
            }
            JsonNode statusNode = root.get("status");
            JobStatus status = (statusNode != null && statusNode.isTextual()) ? JobStatus.parse(statusNode.textValue()) : null;
            if (status == null || !status.terminal()) {
                throw JobApiException.badRequest("status", "required: SUCCEEDED or FAILED");
            }
            JsonNode result = present(root.get("result"));
            JsonNode error = present(root.get("error"));
            if (status == JobStatus.FAILED && error == null) {
                throw JobApiException.badRequest("error", "required for FAILED: {\"kind\": ..., \"message\": ...}");
            }
            if (result != null && Jsonb.containsNul(result)) {
                JobStatus reported = status;
                result = null;
                if (status == JobStatus.SUCCEEDED) {
                    status = JobStatus.FAILED;
                    error = unstorableResult();
                }
                log.atWarn().addKeyValue("job_id", jobId.toString()).addKeyValue("reported_status", reported.name())
                    .addKeyValue("status", status.name())
                    .log("job result contains U+0000, which cannot be stored; recording FAILED without it "
                        + "unless the job already finished");
            }
            if (error != null && Jsonb.containsNul(error)) {
                error = Jsonb.replaceNul(error);
                log.atWarn().addKeyValue("job_id", jobId.toString()).addKeyValue("status", status.name())
                    .log("job error contains U+0000, which cannot be stored; stored with U+FFFD in its place");
            }
            return service.applyResult(jobId, status, json(result), json(error)).map(Job::view)
                .orElseThrow(() -> JobApiException.notFound("id: no job with id " + jobId));
        } finally {
            MDC.remove("job_id");
        }
    }

    private static JsonNode present(JsonNode node) {
        return (node == null || node.isNull() || node.isMissingNode()) ? null : node;
    }

    private static String json(JsonNode node) {
        return (node == null) ? null : node.toString();
    }

    private static ObjectNode unstorableResult() {
        ObjectNode error = JsonNodeFactory.instance.objectNode();
        error.put("kind", "invalid");
        error.put("message", "result: contains the NUL character (U+0000), which cannot be stored "
                + "(PostgreSQL jsonb); the worker reported SUCCEEDED, its result was discarded");
        return error;
    }

    private JsonNode parse(byte[] body) {
        if (body == null || body.length == 0) {
            throw JobApiException.badRequest("body", "required: a JSON object with status");
        }
        try {
            JsonNode root = reader.readTree(body);
            if (root == null || !root.isObject()) {
                throw JobApiException.badRequest("body", "must be a JSON object");
            }
            // Unknown fields (attempt, finished_at, newer additions) are tolerated on this internal path.
            return root;
        } catch (JsonProcessingException ex) {
            throw JobApiException.badRequest("body", "malformed JSON");
        } catch (IOException ex) {
            throw JobApiException.badRequest("body", "unreadable");
        }
    }
}
