package lab.infra.core.requestid;

import java.io.IOException;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.slf4j.MDC;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Reads or creates the request id, puts it in the MDC for every log line of the request and
 * echoes it back. Runs first so that everything after it (access log, metrics, handlers) sees
 * the id.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE)
public class RequestIdFilter extends OncePerRequestFilter {

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response,
            FilterChain chain) throws ServletException, IOException {
        String requestId = RequestIds.reuseOrGenerate(request.getHeader(RequestIds.HEADER));
        // Set before the chain runs: once the body is written the response is committed and
        // headers can no longer be added.
        response.setHeader(RequestIds.HEADER, requestId);
        MDC.put(RequestIds.MDC_KEY, requestId);
        try {
            chain.doFilter(request, response);
        } finally {
            // Tomcat reuses threads; a leftover id would leak into unrelated log lines.
            MDC.remove(RequestIds.MDC_KEY);
        }
    }
}
