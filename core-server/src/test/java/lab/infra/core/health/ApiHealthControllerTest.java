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
import org.springframework.test.json.JsonCompareMode;
import org.springframework.test.web.servlet.MockMvc;

/**
 * /api/health follows the Actuator "public" health group (not the whole Actuator aggregate): a
 * member going DOWN or OUT_OF_SERVICE turns the answer into a 503, while the replica's own
 * readinessState, which is not a member, does not.
 */
// The slice has no DataSource and no probe states, so the readiness group's members (db, readinessState) are absent.
@WebMvcTest(controllers = ApiHealthController.class,
        properties = "management.endpoint.health.validate-group-membership=false")
@ImportAutoConfiguration({ HealthContributorAutoConfiguration.class, HealthEndpointAutoConfiguration.class })
class ApiHealthControllerTest {

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
            .andExpect(content().json("{\"status\":\"UP\",\"service\":\"core-server\"}", JsonCompareMode.STRICT));
    }

    @Test
    void downContributorGives503() throws Exception {
        indicator.status = Status.DOWN;
        mvc.perform(get("/api/health"))
            .andExpect(status().isServiceUnavailable())
            .andExpect(content().json("{\"status\":\"DOWN\",\"service\":\"core-server\"}", JsonCompareMode.STRICT));
    }

    @Test
    void outOfServiceGives503() throws Exception {
        indicator.status = Status.OUT_OF_SERVICE;
        mvc.perform(get("/api/health"))
            .andExpect(status().isServiceUnavailable())
            .andExpect(content().json("{\"status\":\"OUT_OF_SERVICE\",\"service\":\"core-server\"}", JsonCompareMode.STRICT));
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
