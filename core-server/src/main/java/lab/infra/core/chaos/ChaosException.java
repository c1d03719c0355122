package lab.infra.core.chaos;

import org.springframework.http.HttpStatus;

/**
 * A refused chaos call. Rendered as the contract's {@code {"error", "message"}} body with
 * {@link #status()}; {@code message} is {@code "<field>: <why>"} where a field is at fault.
 */
public class ChaosException extends RuntimeException {

    private final HttpStatus status;
    private final String error;

    public ChaosException(HttpStatus status, String error, String message) {
        super(message);
        this.status = status;
        this.error = error;
    }

    static ChaosException badRequest(String field, String why) {
        return new ChaosException(HttpStatus.BAD_REQUEST, "bad_request", field + ": " + why);
    }

    static ChaosException notFound(String message) {
        return new ChaosException(HttpStatus.NOT_FOUND, "not_found", message);
    }

    static ChaosException conflict(String message) {
        return new ChaosException(HttpStatus.CONFLICT, "conflict", message);
    }

    public HttpStatus status() {
        return status;
    }

    public String error() {
        return error;
    }
}
