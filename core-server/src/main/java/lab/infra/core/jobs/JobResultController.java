package lab.infra.core.jobs;

import java.io.IOException;
import java.util.UUID;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
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
 */
@RestController
class JobResultController {

    private final JobService service;
    private final ObjectReader reader;

    JobResultController(JobService service, ObjectMapper objectMapper) {
        this.service = service;
        this.reader = objectMapper.reader()
            .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .with(StreamReadFeature.STRICT_DUPLICATE_DETECTION);
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
            String resultJson = json(root.get("result"));
            String errorJson = json(root.get("error"));
            if (status == JobStatus.FAILED && errorJson == null) {
                throw JobApiException.badRequest("error", "required for FAILED: {\"kind\": ..., \"message\": ...}");
            }
            return service.applyResult(jobId, status, resultJson, errorJson).map(Job::view)
                .orElseThrow(() -> JobApiException.notFound("id: no job with id " + jobId));
        } finally {
            MDC.remove("job_id");
        }
    }

    private static String json(JsonNode node) {
        return (node == null || node.isNull() || node.isMissingNode()) ? null : node.toString();
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
