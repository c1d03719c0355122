package lab.infra.core.logging;

import java.io.IOException;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Writes one "request completed" line per request on the app port, with the contract's event
 * fields as SLF4J key/value pairs so they keep their JSON types (status and duration_ms are
 * numbers). Ordered right after the request id filter so the line carries request_id.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 1)
public class AccessLogFilter extends OncePerRequestFilter {

    static final String MESSAGE = "request completed";

    private static final Logger log = LoggerFactory.getLogger(AccessLogFilter.class);

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response,
            FilterChain chain) throws ServletException, IOException {
        long start = System.nanoTime();
        int status = HttpServletResponse.SC_INTERNAL_SERVER_ERROR;
        try {
            chain.doFilter(request, response);
            status = response.getStatus();
        } finally {
            // An exception escaping the chain becomes a 500 from the container's error page;
            // the default above records that instead of the not-yet-set 200.
            double durationMs = Math.round((System.nanoTime() - start) / 1_000.0) / 1_000.0;
            log.atInfo()
                .addKeyValue("method", request.getMethod())
                // Path only: query strings may carry tokens and blow up cardinality.
                .addKeyValue("path", request.getRequestURI())
                .addKeyValue("status", status)
                .addKeyValue("duration_ms", durationMs)
                .log(MESSAGE);
        }
    }
}
