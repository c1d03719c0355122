package lab.infra.core.jobs;

import java.util.Map;

import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.media.Schema.AdditionalPropertiesValue;
import io.swagger.v3.oas.annotations.media.Schema.RequiredMode;

/**
 * The body of {@code POST /api/jobs}, for the OpenAPI document only: the controller reads the raw
 * bytes with {@link JobRequestParser} (field-and-reason 400s, duplicate keys, size limits), so
 * these annotations restate the parser's rules; {@code JobRequestParserTest} and the schemathesis
 * smoke test keep the two honest.
 */
@Schema(name = "JobCreateRequest", additionalProperties = AdditionalPropertiesValue.FALSE,
        description = "A job to run. The whole body is at most 65536 bytes; unknown fields, duplicate keys and "
                + "trailing tokens are rejected with 400.")
record JobCreateRequest(
        @Schema(requiredMode = RequiredMode.REQUIRED, allowableValues = {"quote"}, description = "The job type.")
        String type,
        @Schema(requiredMode = RequiredMode.REQUIRED, implementation = Object.class, description = "Input of the job: any JSON object of at most "
                + JobRequestParser.MAX_PAYLOAD_BYTES + " bytes as compact JSON (larger is 413), without the NUL "
                + "character in any string or key (400; PostgreSQL's jsonb cannot store it).")
        Map<String, Object> payload) {
}
