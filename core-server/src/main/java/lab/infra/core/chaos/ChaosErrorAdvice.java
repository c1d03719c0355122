package lab.infra.core.chaos;

import jakarta.servlet.http.HttpServletRequest;
import lab.infra.core.errors.ServerErrors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.filter.ServerHttpObservationFilter;

/**
 * Renders {@link ChaosInjectedException} as problem+json with the fault's status (instead of
 * the generic 500 of ApiExceptionHandler). Logged at error with the exception, like any
 * unhandled failure, so log-based detection sees it, and reported to Sentry (the fault's status
 * is always 5xx); the client gets no stack trace.
 */
@RestControllerAdvice
@Order(Ordered.HIGHEST_PRECEDENCE)
public class ChaosErrorAdvice {

    static final String MESSAGE = "chaos injected error";

    private static final Logger log = LoggerFactory.getLogger(ChaosErrorAdvice.class);

    @ExceptionHandler(ChaosInjectedException.class)
    ResponseEntity<ProblemDetail> injected(ChaosInjectedException ex, HttpServletRequest request) {
        // Handled exceptions are invisible to the request metrics unless attached to the
        // observation: this gives http_server_requests its exception="ChaosInjectedException" tag.
        ServerHttpObservationFilter.findObservationContext(request).ifPresent(context -> context.setError(ex));
        log.atError().addKeyValue("kind", ChaosKind.ERRORS.id()).addKeyValue("status", ex.status()).setCause(ex)
            .log(MESSAGE);
        ServerErrors.report(ex, ex.status());
        HttpStatusCode status = HttpStatusCode.valueOf(ex.status());
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(status,
                "Injected failure (chaos errors fault); see the service log for this request id.");
        return ResponseEntity.status(status).body(problem);
    }
}
