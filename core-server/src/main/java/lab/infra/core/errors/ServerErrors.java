package lab.infra.core.errors;

import io.sentry.Sentry;
import io.sentry.SentryEvent;
import io.sentry.SentryLevel;
import io.sentry.exception.ExceptionMechanismException;
import io.sentry.protocol.Mechanism;

/**
 * Reports exceptions that end in a 5xx response to Sentry (docs/observability/errors.md).
 *
 * <p>Every exception of the request path is turned into problem+json by an
 * {@code @ExceptionHandler} ({@code ApiExceptionHandler}, {@code ChaosErrorAdvice}). Sentry's own
 * {@code SentryExceptionResolver} runs after those handlers (order 1, behind Spring's composite
 * resolver at 0), so it never sees a handled exception; moving it in front of them would report
 * every 4xx too (404 for unknown paths, 400 validation, 405, ...). The handlers therefore call
 * {@link #report} with the status they answer, and only 5xx go to Sentry.
 *
 * <p>The event goes to the request's scope forked by Sentry's servlet filter (request data,
 * transaction name); the {@code service} tag comes from {@code sentry.tags.service} and
 * {@code request_id} from the MDC via {@code sentry.context-tags}. With an empty
 * {@code SENTRY_DSN} the SDK is disabled and this is a no-op.
 */
public final class ServerErrors {

    /** Mechanism type shown in Sentry: the exception reached an MVC exception handler, not the container. */
    public static final String MECHANISM_TYPE = "spring_mvc_exception_handler";

    private ServerErrors() {
    }

    /** Captures {@code ex} when {@code status} is a server error (500..599); 4xx are never reported. */
    public static void report(Throwable ex, int status) {
        if (status < 500 || status > 599 || !Sentry.isEnabled()) {
            return;
        }
        Mechanism mechanism = new Mechanism();
        mechanism.setType(MECHANISM_TYPE);
        // Handled by our code, but it still ended the request as a server error: same as Sentry's resolver.
        mechanism.setHandled(false);
        SentryEvent event = new SentryEvent(new ExceptionMechanismException(mechanism, ex, Thread.currentThread()));
        event.setLevel(SentryLevel.ERROR);
        event.setTag("http.status_code", Integer.toString(status));
        Sentry.captureEvent(event);
    }
}
