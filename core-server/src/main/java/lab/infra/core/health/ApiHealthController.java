package lab.infra.core.health;

import java.util.LinkedHashMap;
import java.util.Map;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.actuate.health.HealthEndpoint;
import org.springframework.boot.actuate.health.HttpCodeStatusMapper;
import org.springframework.boot.actuate.health.Status;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * Public health summary on the app port, so nginx and clients can see service health without
 * reaching the ops port. It reports the same aggregate as /actuator/health (no details) and
 * maps the status to HTTP with the same mapper Actuator uses (DOWN/OUT_OF_SERVICE -> 503).
 */
@RestController
public class ApiHealthController {

    private final HealthEndpoint healthEndpoint;
    private final HttpCodeStatusMapper statusMapper;
    private final String serviceName;

    public ApiHealthController(HealthEndpoint healthEndpoint, HttpCodeStatusMapper statusMapper,
            @Value("${spring.application.name}") String serviceName) {
        this.healthEndpoint = healthEndpoint;
        this.statusMapper = statusMapper;
        this.serviceName = serviceName;
    }

    @GetMapping("/api/health")
    public ResponseEntity<Map<String, String>> health() {
        Status status = healthEndpoint.health().getStatus();
        Map<String, String> body = new LinkedHashMap<>();
        body.put("status", status.getCode());
        body.put("service", serviceName);
        return ResponseEntity.status(statusMapper.getStatusCode(status)).body(body);
    }
}
