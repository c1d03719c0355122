package lab.infra.core.web;

import lab.infra.core.errors.ServerErrors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.NestedRuntimeException;
import org.springframework.dao.DataAccessResourceFailureException;
import org.springframework.dao.TransientDataAccessException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.transaction.CannotCreateTransactionException;
import org.springframework.http.ProblemDetail;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;

/**
 * Turns every error inside Spring MVC into an RFC 9457 problem+json body. The base class
 * covers Spring's own exceptions (404 for unknown paths, 405, 400, 415, ...); the handler
 * below covers everything else as a 500 without leaking the stack trace to the client.
 * Whatever ends in a 5xx is reported to Sentry ({@link ServerErrors}); 4xx never are.
 */
@RestControllerAdvice
public class ApiExceptionHandler extends ResponseEntityExceptionHandler {

    private static final Logger log = LoggerFactory.getLogger(ApiExceptionHandler.class);

    /**
     * The database is down, slow or out of pool connections (Hikari's 2 s connection timeout): a
     * 503 the client may retry, so database faults show in user traffic as such.
     */
    @ExceptionHandler({DataAccessResourceFailureException.class, TransientDataAccessException.class,
        CannotCreateTransactionException.class})
    public ResponseEntity<ProblemDetail> handleDatabaseUnavailable(NestedRuntimeException ex) {
        log.atError().addKeyValue("error_kind", ex.getClass().getSimpleName()).setCause(ex).log("database unavailable");
        ServerErrors.report(ex, HttpStatus.SERVICE_UNAVAILABLE.value());
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(HttpStatus.SERVICE_UNAVAILABLE,
                "Database unavailable; retry later.");
        return ResponseEntity.status(HttpStatus.SERVICE_UNAVAILABLE).header(HttpHeaders.RETRY_AFTER, "1")
            .contentType(MediaType.APPLICATION_PROBLEM_JSON).body(problem);
    }

    @ExceptionHandler(Exception.class)
    public ProblemDetail handleUnexpected(Exception ex) {
        // Full detail goes to the log (with request_id from the MDC), never to the client.
        log.error("unhandled exception", ex);
        ServerErrors.report(ex, HttpStatus.INTERNAL_SERVER_ERROR.value());
        return ProblemDetail.forStatusAndDetail(HttpStatus.INTERNAL_SERVER_ERROR,
                "Unexpected error; see the service log for this request id.");
    }

    /**
     * Spring's own exceptions (handled by the base class) are mostly 4xx, but a few are 5xx
     * (async timeout 503, missing path variable 500, unwritable response 500): report those.
     */
    @Override
    protected ResponseEntity<Object> handleExceptionInternal(Exception ex, Object body, HttpHeaders headers,
            HttpStatusCode statusCode, WebRequest request) {
        ServerErrors.report(ex, statusCode.value());
        return super.handleExceptionInternal(ex, body, headers, statusCode, request);
    }
}
