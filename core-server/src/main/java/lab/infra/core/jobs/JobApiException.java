package lab.infra.core.jobs;

import java.net.URI;

import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.web.ErrorResponseException;

/**
 * A client error of the jobs API. Spring MVC renders it as RFC 9457 problem+json (the detail is
 * always a message written here, never an exception text).
 */
public class JobApiException extends ErrorResponseException {

    public JobApiException(HttpStatus status, String detail) {
        super(status, problem(status, detail), null);
    }

    private static ProblemDetail problem(HttpStatus status, String detail) {
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(status, detail);
        problem.setType(URI.create("about:blank"));
        return problem;
    }

    static JobApiException badRequest(String field, String reason) {
        return new JobApiException(HttpStatus.BAD_REQUEST, field + ": " + reason);
    }

    static JobApiException notFound(String detail) {
        return new JobApiException(HttpStatus.NOT_FOUND, detail);
    }
}
