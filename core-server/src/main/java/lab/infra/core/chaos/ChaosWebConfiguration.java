package lab.infra.core.chaos;

import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.web.servlet.config.annotation.InterceptorRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/**
 * App-port side of the faults that act in the request path: {@code latency} (a servlet filter)
 * and {@code errors} (a handler interceptor). Beans of the main context only: the management
 * port has its own Tomcat and dispatcher. Declared here rather than as components so MVC slice
 * tests, which have no ChaosService, do not pick them up.
 */
@Configuration(proxyBeanMethods = false)
public class ChaosWebConfiguration {

    /** After request id (HIGHEST), access log and metrics (HIGHEST + 1): the delay is measured. */
    static final int LATENCY_FILTER_ORDER = Ordered.HIGHEST_PRECEDENCE + 10;

    @Bean
    FilterRegistrationBean<ChaosLatencyFilter> chaosLatencyFilter(ChaosService chaos) {
        FilterRegistrationBean<ChaosLatencyFilter> registration =
                new FilterRegistrationBean<>(new ChaosLatencyFilter(chaos));
        registration.setOrder(LATENCY_FILTER_ORDER);
        return registration;
    }

    @Bean
    WebMvcConfigurer chaosErrorInterceptorConfigurer(ChaosService chaos, ApplicationContext context) {
        return new WebMvcConfigurer() {
            @Override
            public void addInterceptors(InterceptorRegistry registry) {
                registry.addInterceptor(new ChaosErrorInterceptor(chaos, context));
            }
        };
    }
}
