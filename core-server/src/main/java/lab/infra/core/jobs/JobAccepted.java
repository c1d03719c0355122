package lab.infra.core.jobs;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.media.Schema.RequiredMode;

/** Answer of {@code POST /api/jobs}: the job exists and waits for dispatch. */
@JsonPropertyOrder({"id", "status", "location"})
@Schema(name = "JobAccepted")
record JobAccepted(
        @Schema(requiredMode = RequiredMode.REQUIRED, format = "uuid") String id,
        @Schema(requiredMode = RequiredMode.REQUIRED, description = "PENDING for a new job; the stored status on a "
                + "replay.", allowableValues = {"PENDING", "DISPATCHED", "SUCCEEDED", "FAILED"}) String status,
        @Schema(requiredMode = RequiredMode.REQUIRED, example = "/api/jobs/3f2b9c1e-8d4a-4b6f-9e2a-1c5d7e9f0a1b",
                description = "Where to poll the job; also the Location header.") String location) {
}
