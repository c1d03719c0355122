package lab.infra.core.jobs;

import static io.swagger.v3.oas.annotations.media.Schema.RequiredMode.REQUIRED;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.UUID;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.annotation.JsonRawValue;
import io.swagger.v3.oas.annotations.media.Schema;

/** One row of {@code jobs}; JSON columns stay raw text and are written into responses as JSON. */
public record Job(UUID id, String type, String payload, JobStatus status, String idempotencyKey, String requestHash,
        String requestId, int dispatchCount, String result, String error, Instant createdAt, Instant updatedAt,
        Instant dispatchedAt, Instant finishedAt) {

    private static final DateTimeFormatter RFC3339_MILLIS =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    static String format(Instant instant) {
        return (instant == null) ? null : RFC3339_MILLIS.format(instant);
    }

    View view() {
        return new View(id.toString(), type, status.name(), payload, result, error, dispatchCount, format(createdAt),
                format(updatedAt), format(dispatchedAt), format(finishedAt));
    }

    /** The API representation of a job. Every field is always present; the nullable ones as null. */
    @JsonPropertyOrder({"id", "type", "status", "payload", "result", "error", "dispatch_attempts", "created_at",
        "updated_at", "dispatched_at", "finished_at"})
    @Schema(name = "Job")
    public record View(
            @JsonProperty("id") @Schema(requiredMode = REQUIRED, format = "uuid") String id,
            @JsonProperty("type") @Schema(requiredMode = REQUIRED, example = "quote") String type,
            @JsonProperty("status") @Schema(requiredMode = REQUIRED,
                    allowableValues = {"PENDING", "DISPATCHED", "SUCCEEDED", "FAILED"}) String status,
            // Raw JSON columns: the schema says what the JSON is, not the Java String holding it.
            @JsonProperty("payload") @JsonRawValue @Schema(requiredMode = REQUIRED, implementation = Object.class,
                    description = "The payload as submitted") String payload,
            @JsonProperty("result") @JsonRawValue @Schema(requiredMode = REQUIRED, implementation = Object.class,
                    nullable = true, description = "What the worker returned; null until SUCCEEDED") String result,
            @JsonProperty("error") @JsonRawValue @Schema(requiredMode = REQUIRED, implementation = Object.class,
                    nullable = true, description = "Why the job FAILED ({\"kind\": ..., \"message\": ...}); null otherwise")
            String error,
            @JsonProperty("dispatch_attempts") @Schema(requiredMode = REQUIRED, minimum = "0") int dispatchAttempts,
            @JsonProperty("created_at") @Schema(requiredMode = REQUIRED, format = "date-time") String createdAt,
            @JsonProperty("updated_at") @Schema(requiredMode = REQUIRED, format = "date-time") String updatedAt,
            @JsonProperty("dispatched_at") @Schema(requiredMode = REQUIRED, format = "date-time", nullable = true)
            String dispatchedAt,
            @JsonProperty("finished_at") @Schema(requiredMode = REQUIRED, format = "date-time", nullable = true)
            String finishedAt) {
    }
}
