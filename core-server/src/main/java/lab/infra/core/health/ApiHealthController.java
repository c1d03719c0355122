package lab.infra.core.health;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.media.Schema.RequiredMode;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.actuate.health.HealthEndpoint;
import org.springframework.boot.actuate.health.HttpCodeStatusMapper;
import org.springframework.boot.actuate.health.Status;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

import lab.infra.core.version.AppVersion;

/**
 * Public health summary on the app port, so nginx and clients can see service health without
 * reaching the ops port. It reports the aggregate of the "public" health group (every contributor
 * but this replica's readiness and liveness, no details) and maps the status to HTTP with the
 * same mapper Actuator uses (DOWN/OUT_OF_SERVICE -> 503), with the build that answers (a rolling
 * deploy shows which replicas already run the new version).
 */
@RestController
@Tag(name = "health")
public class ApiHealthController {

    /** The health group of application.properties without readiness/liveness (this replica's lifecycle). */
    static final String PUBLIC_GROUP = "public";

    private final HealthEndpoint healthEndpoint;
    private final HttpCodeStatusMapper statusMapper;
    private final String serviceName;
    private final AppVersion build;

    public ApiHealthController(HealthEndpoint healthEndpoint, HttpCodeStatusMapper statusMapper,
            @Value("${spring.application.name}") String serviceName, AppVersion build) {
        this.healthEndpoint = healthEndpoint;
        this.statusMapper = statusMapper;
        this.serviceName = serviceName;
        this.build = build;
    }

    @GetMapping("/api/health")
    @Operation(summary = "Service health", description = "The aggregate of /actuator/health without details.")
    @ApiResponse(responseCode = "200", description = "UP")
    // Not the problem+json 503 of the other endpoints: the same body, with the status that is not UP.
    @ApiResponse(responseCode = "503", description = "DOWN or OUT_OF_SERVICE (a database outage included)",
            content = @Content(mediaType = MediaType.APPLICATION_JSON_VALUE,
                    schema = @Schema(implementation = HealthSummary.class)))
    public ResponseEntity<HealthSummary> health() {
        Status status = healthEndpoint.healthForPath(PUBLIC_GROUP).getStatus();
        return ResponseEntity.status(statusMapper.getStatusCode(status))
            .body(new HealthSummary(status.getCode(), serviceName, build.version(), build.commit()));
    }

    @JsonPropertyOrder({"status", "service", "version", "commit"})
    @Schema(name = "HealthSummary")
    public record HealthSummary(
            @Schema(requiredMode = RequiredMode.REQUIRED, example = "UP",
                    description = "Actuator status: UP, DOWN, OUT_OF_SERVICE or UNKNOWN") String status,
            @Schema(requiredMode = RequiredMode.REQUIRED, example = "core-server") String service,
            @Schema(requiredMode = RequiredMode.REQUIRED, example = "6492e4b1c0de",
                    description = "APP_VERSION of the image (git short commit, -dirty suffix for uncommitted "
                            + "changes); dev for a developer build") String version,
            @Schema(requiredMode = RequiredMode.REQUIRED, example = "6492e4b1c0de5f0a9e3b7c1d2f4a6b8c9d0e1f2a",
                    description = "APP_COMMIT of the image (full git commit); unknown for a developer build")
            String commit) {
    }
}
