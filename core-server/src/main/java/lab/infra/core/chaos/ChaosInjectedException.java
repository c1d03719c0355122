package lab.infra.core.chaos;

/**
 * Thrown in the app port's request path by the {@code errors} fault, so it travels the same
 * way as a real failure: through Spring MVC's exception resolvers (where error tracking hooks
 * in) to a problem+json response with the fault's status.
 */
public class ChaosInjectedException extends RuntimeException {

    private final int status;

    public ChaosInjectedException(int status) {
        super("chaos errors fault: injected failure with status " + status);
        this.status = status;
    }

    public int status() {
        return status;
    }
}
