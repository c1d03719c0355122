package lab.infra.core.chaos;

import java.io.IOException;
import java.util.concurrent.ThreadLocalRandom;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * The {@code latency} fault: delays {@code percent}% of app-port requests by {@code delay_ms}
 * plus a uniform random {@code 0..jitter_ms}. A servlet filter of the main context, so it sees
 * every app-port request (also unmatched paths) and never the management port. It runs after
 * the request id, access log and metrics filters, so the delay shows up in
 * {@code duration_ms} and {@code http_server_requests_seconds}. Reverting the fault releases
 * waiting requests at once.
 */
class ChaosLatencyFilter extends OncePerRequestFilter {

    private final ChaosService chaos;

    ChaosLatencyFilter(ChaosService chaos) {
        this.chaos = chaos;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        chaos.active(ChaosKind.LATENCY).ifPresent(ChaosLatencyFilter::delay);
        chain.doFilter(request, response);
    }

    private static void delay(ActiveFault fault) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        if (random.nextInt(100) >= fault.param("percent")) {
            return;
        }
        int jitter = fault.param("jitter_ms");
        long millis = fault.param("delay_ms") + (jitter > 0 ? random.nextInt(jitter + 1) : 0);
        fault.sleepUnlessReverted(millis);
    }
}
