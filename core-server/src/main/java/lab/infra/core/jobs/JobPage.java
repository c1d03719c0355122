package lab.infra.core.jobs;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.media.Schema.RequiredMode;

/** One page of {@code GET /api/jobs}, newest first. */
@JsonPropertyOrder({"items", "next_cursor"})
@Schema(name = "JobPage")
record JobPage(
        @JsonProperty("items") @Schema(requiredMode = RequiredMode.REQUIRED) List<Job.View> items,
        @JsonProperty("next_cursor") @Schema(requiredMode = RequiredMode.REQUIRED, nullable = true,
                description = "Opaque; pass as cursor for the next page. null on the last page.") String nextCursor) {
}
