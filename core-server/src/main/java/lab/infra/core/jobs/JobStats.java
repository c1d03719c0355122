package lab.infra.core.jobs;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.media.Schema.RequiredMode;

/** Answer of {@code GET /api/jobs/stats}, read from the database on every request. */
@JsonPropertyOrder({"counts", "total", "outbox"})
@Schema(name = "JobStats")
record JobStats(
        @JsonProperty("counts") @Schema(requiredMode = RequiredMode.REQUIRED) Counts counts,
        @JsonProperty("total") @Schema(requiredMode = RequiredMode.REQUIRED, minimum = "0") long total,
        @JsonProperty("outbox") @Schema(requiredMode = RequiredMode.REQUIRED) Outbox outbox) {

    /** Jobs per status; every status is always present. */
    @JsonPropertyOrder({"PENDING", "DISPATCHED", "SUCCEEDED", "FAILED"})
    @Schema(name = "JobCounts")
    record Counts(
            @JsonProperty("PENDING") @Schema(requiredMode = RequiredMode.REQUIRED, minimum = "0") long pending,
            @JsonProperty("DISPATCHED") @Schema(requiredMode = RequiredMode.REQUIRED, minimum = "0") long dispatched,
            @JsonProperty("SUCCEEDED") @Schema(requiredMode = RequiredMode.REQUIRED, minimum = "0") long succeeded,
            @JsonProperty("FAILED") @Schema(requiredMode = RequiredMode.REQUIRED, minimum = "0") long failed) {
    }

    /** Dispatch backlog: rows waiting in the outbox and the age of the oldest. */
    @JsonPropertyOrder({"size", "lag_seconds"})
    @Schema(name = "OutboxStats")
    record Outbox(
            @JsonProperty("size") @Schema(requiredMode = RequiredMode.REQUIRED, minimum = "0") long size,
            @JsonProperty("lag_seconds") @Schema(requiredMode = RequiredMode.REQUIRED,
                    description = "Age in seconds of the oldest waiting row (0 when empty), millisecond precision.")
            double lagSeconds) {
    }
}
