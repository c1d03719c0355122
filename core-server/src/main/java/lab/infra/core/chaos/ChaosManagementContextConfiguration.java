package lab.infra.core.chaos;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.actuate.autoconfigure.web.server.ConditionalOnManagementPort;
import org.springframework.boot.actuate.autoconfigure.web.server.ManagementPortType;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.web.servlet.function.RouterFunction;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * Puts the chaos API on the management port (8081) and nowhere else.
 *
 * <p>Listed in {@code META-INF/spring/org.springframework.boot.actuate.autoconfigure.web.ManagementContextConfiguration.imports},
 * so Actuator imports it into its child context, the one with the management port's own Tomcat
 * and dispatcher. The routes are a {@link RouterFunction} bean, which a dispatcher only picks up
 * from its own context, so the app port (8080) answers 404 for {@code /internal/chaos}.
 *
 * <p>Deliberately <em>not</em> annotated {@code @ManagementContextConfiguration}: that
 * annotation is a {@code @Configuration} stereotype, so component scanning of
 * {@code lab.infra.core} would also register the routes in the main context (Spring Boot
 * excludes only auto-configurations from scanning). A plain class with {@code @Bean} methods
 * is never scanned and is still imported as configuration. Without the annotation the class
 * counts as "any" management context; the condition below keeps it out of a shared
 * (same-port) context, where the chaos API would end up on the app port.
 */
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
@ConditionalOnManagementPort(ManagementPortType.DIFFERENT)
public class ChaosManagementContextConfiguration {

    @Bean
    RouterFunction<ServerResponse> chaosRoutes(ChaosService chaos, ObjectMapper objectMapper,
            @Value("${spring.application.name}") String serviceName) {
        return new ChaosEndpoint(chaos, objectMapper, serviceName).routes();
    }
}
