package lab.infra.core.jobs;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Jobs settings ({@code jobs.*} in application.properties; env vars in the README).
 *
 * @param workerUrl base URL of worker-server (WORKER_URL)
 * @param callbackBaseUrl base URL the worker calls back on (CORE_CALLBACK_BASE_URL)
 * @param dispatch outbox dispatcher tuning
 */
@ConfigurationProperties("jobs")
public record JobsProperties(String workerUrl, String callbackBaseUrl, Dispatch dispatch) {

    /**
     * @param enabled run the outbox poller and the stale sweep in this process
     * @param pollInterval how often the outbox is polled when idle
     * @param concurrency dispatch calls in flight at once
     * @param connectTimeout TCP connect timeout to the worker
     * @param readTimeout response timeout of one dispatch call
     * @param backoffInitial first retry delay (doubles per attempt, full jitter)
     * @param backoffMax cap of the retry delay
     * @param retryAfterMax cap of a worker's Retry-After
     * @param staleTimeout a DISPATCHED job without result after this is dispatched again
     * @param sweepInterval how often the stale sweep and the metrics refresh run
     * @param maxDispatches the stale sweep fails a job (error kind {@code dispatch_exhausted}) instead of
     *        re-queueing it once a worker has taken it this many times without a result (JOBS_MAX_DISPATCHES);
     *        refused or failed dispatch attempts do not count
     */
    public record Dispatch(boolean enabled, Duration pollInterval, int concurrency, Duration connectTimeout,
            Duration readTimeout, Duration backoffInitial, Duration backoffMax, Duration retryAfterMax,
            Duration staleTimeout, Duration sweepInterval, int maxDispatches) {

        public Dispatch {
            // Binding fails (the app does not start) with this message instead of failing every job or none.
            if (maxDispatches < 1) {
                throw new IllegalArgumentException("jobs.dispatch.max-dispatches (JOBS_MAX_DISPATCHES) must be at "
                        + "least 1, got " + maxDispatches);
            }
        }

        /** A claimed outbox row is invisible to other pollers for this long (covers a crash mid-call). */
        Duration lease() {
            return connectTimeout.plus(readTimeout).plusSeconds(5);
        }
    }
}
