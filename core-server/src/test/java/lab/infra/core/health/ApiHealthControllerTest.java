package lab.infra.core.health;

import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.content;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.actuate.autoconfigure.health.HealthContributorAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.health.HealthEndpointAutoConfiguration;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.HealthIndicator;
import org.springframework.boot.actuate.health.Status;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.test.autoconfigure.web.servlet.WebMvcTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.test.json.JsonCompareMode;
import org.springframework.test.web.servlet.MockMvc;

import lab.infra.core.version.AppVersionConfiguration;

/**
 * /api/health follows the Actuator "public" health group (not the whole Actuator aggregate): a
 * member going DOWN or OUT_OF_SERVICE turns the answer into a 503, while the replica's own
 * readinessState, which is not a member, does not.
 */
// The slice has no DataSource and no probe states, so the readiness group's members (db, readinessState) are absent.
@WebMvcTest(controllers = ApiHealthController.class, properties = {
        "management.endpoint.health.validate-group-membership=false",
        "app.version=6492e4b1c0de-dirty", "app.commit=" + ApiHealthControllerTest.COMMIT })
@ImportAutoConfiguration({ HealthContributorAutoConfiguration.class, HealthEndpointAutoConfiguration.class })
@Import(AppVersionConfiguration.class)
class ApiHealthControllerTest {

    static final String COMMIT = "6492e4b1c0de5f0a9e3b7c1d2f4a6b8c9d0e1f2a";

    @Autowired
    private MockMvc mvc;

    @Autowired
    private SwitchableHealthIndicator indicator;

    @AfterEach
    void reset() {
        indicator.status = Status.UP;
    }

    // Config always has readinessState OUT_OF_SERVICE (a replica shutting down): /api/health still says UP.
    @Test
    void upGives200WithServiceNameWhileReadinessIsOutOfService() throws Exception {
        mvc.perform(get("/api/health"))
            .andExpect(status().isOk())
            .andExpect(content().json(body("UP"), JsonCompareMode.STRICT));
    }

    @Test
    void downContributorGives503() throws Exception {
        indicator.status = Status.DOWN;
        mvc.perform(get("/api/health"))
            .andExpect(status().isServiceUnavailable())
            .andExpect(content().json(body("DOWN"), JsonCompareMode.STRICT));
    }

    @Test
    void outOfServiceGives503() throws Exception {
        indicator.status = Status.OUT_OF_SERVICE;
        mvc.perform(get("/api/health"))
            .andExpect(status().isServiceUnavailable())
            .andExpect(content().json(body("OUT_OF_SERVICE"), JsonCompareMode.STRICT));
    }

    /** The whole body: status, service and the build that answers (from app.version / app.commit). */
    private static String body(String status) {
        return "{\"status\":\"" + status + "\",\"service\":\"core-server\","
                + "\"version\":\"6492e4b1c0de-dirty\",\"commit\":\"" + COMMIT + "\"}";
    }

    static class SwitchableHealthIndicator implements HealthIndicator {
        volatile Status status = Status.UP;

        @Override
        public Health health() {
            return Health.status(status).build();
        }
    }

    @TestConfiguration
    static class Config {
        @Bean
        SwitchableHealthIndicator switchableHealthIndicator() {
            return new SwitchableHealthIndicator();
        }

        // What a graceful shutdown does to the real readinessState contributor.
        @Bean
        HealthIndicator readinessState() {
            return () -> Health.outOfService().build();
        }
    }
}
