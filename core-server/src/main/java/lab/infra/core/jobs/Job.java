package lab.infra.core.jobs;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.UUID;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.annotation.JsonRawValue;

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

    /** The API representation of a job. */
    @JsonPropertyOrder({"id", "type", "status", "payload", "result", "error", "dispatch_attempts", "created_at",
        "updated_at", "dispatched_at", "finished_at"})
    public record View(
            @JsonProperty("id") String id,
            @JsonProperty("type") String type,
            @JsonProperty("status") String status,
            @JsonProperty("payload") @JsonRawValue String payload,
            @JsonProperty("result") @JsonRawValue String result,
            @JsonProperty("error") @JsonRawValue String error,
            @JsonProperty("dispatch_attempts") int dispatchAttempts,
            @JsonProperty("created_at") String createdAt,
            @JsonProperty("updated_at") String updatedAt,
            @JsonProperty("dispatched_at") String dispatchedAt,
            @JsonProperty("finished_at") String finishedAt) {
    }
}
