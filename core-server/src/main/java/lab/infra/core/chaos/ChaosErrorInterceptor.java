package lab.infra.core.chaos;

import java.util.concurrent.ThreadLocalRandom;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.context.ApplicationContext;
import org.springframework.web.servlet.HandlerInterceptor;
import org.springframework.web.servlet.support.RequestContextUtils;

/**
 * The {@code errors} fault: {@code percent}% of app-port requests throw
 * {@link ChaosInjectedException} before their handler runs.
 *
 * <p>Only requests dispatched by this interceptor's own (main) context are touched. The
 * management child context's {@code @EnableWebMvc} also picks up the parent's
 * {@code WebMvcConfigurer}s, so without that check the fault would break the chaos endpoints
 * themselves on the management port.
 */
class ChaosErrorInterceptor implements HandlerInterceptor {

    private final ChaosService chaos;
    private final ApplicationContext owner;

    ChaosErrorInterceptor(ChaosService chaos, ApplicationContext owner) {
        this.chaos = chaos;
        this.owner = owner;
    }

    @Override
    public boolean preHandle(HttpServletRequest request, HttpServletResponse response, Object handler) {
        chaos.active(ChaosKind.ERRORS).ifPresent(fault -> {
            if (RequestContextUtils.findWebApplicationContext(request) != owner) {
                return;
            }
            if (ThreadLocalRandom.current().nextInt(100) < fault.param("percent")) {
                throw new ChaosInjectedException(fault.param("status"));
            }
        });
        return true;
    }
}
