package lab.infra.core.jobs;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import lab.infra.core.requestid.RequestIds;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Outbox dispatcher (docs/contracts/core-worker.md, core side). A poller thread claims due outbox
 * rows with {@code FOR UPDATE SKIP LOCKED} plus a lease (so replicas never send the same row at
 * once and a crash mid-call only delays the job), and a small pool makes the HTTP calls:
 * 202/200 remove the row and mark the job DISPATCHED; 429 waits Retry-After; 503, other 5xx,
 * timeouts and connection errors back off exponentially (capped, jittered) forever; 400 fails
 * the job. A sweep puts DISPATCHED jobs without a result for the stale timeout back into the
 * outbox, or fails them (dispatch_exhausted) once workers have taken them max-dispatches times.
 * Nothing is lost: the row only goes away when the worker has the job or it is terminal.
 */
@Component
public class JobDispatcher implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(JobDispatcher.class);
    private static final long DB_WARN_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final JobRepository repository;
    private final TransactionTemplate tx;
    private final JobsProperties.Dispatch settings;
    private final URI dispatchUri;
    private final String callbackBase;
    private final ObjectMapper json;
    private final MeterRegistry meters;
    private final JobMetrics metrics;
    private final HttpClient http;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final Counter exhaustedCounter;

    private volatile boolean running;
    private ScheduledExecutorService scheduler;
    private ExecutorService senders;
    private volatile long lastDbWarn;

    JobDispatcher(JobRepository repository, TransactionTemplate tx, JobsProperties properties, ObjectMapper json,
            MeterRegistry meters, JobMetrics metrics) {
        this.repository = repository;
        this.tx = tx;
        this.settings = properties.dispatch();
        this.dispatchUri = URI.create(stripSlash(properties.workerUrl()) + "/internal/jobs");
        this.callbackBase = stripSlash(properties.callbackBaseUrl());
        this.json = json;
        this.meters = meters;
        this.metrics = metrics;
        this.http = HttpClient.newBuilder().connectTimeout(settings.connectTimeout())
            .version(HttpClient.Version.HTTP_1_1).build();
        // Registered up front so core_jobs_dispatch_exhausted_total is 0 (not absent) until the first one.
        this.exhaustedCounter = Counter.builder("core.jobs.dispatch.exhausted")
            .description("Jobs FAILED (dispatch_exhausted) after max-dispatches deliveries without a result")
            .register(meters);
        // Every outcome at 0 from the start: a first failure is then an increase Prometheus sees, not a
        // new series whose first value rate() and increase() cannot count.
        for (Outcome outcome : Outcome.values()) {
            meters.counter("core.dispatch.attempts", "outcome", outcome.tag);
        }
    }

    @Override
    public synchronized void start() {
        scheduler = Executors.newSingleThreadScheduledExecutor(daemon("outbox-poller"));
        long sweepMillis = settings.sweepInterval().toMillis();
        scheduler.scheduleWithFixedDelay(this::maintain, 0, sweepMillis, TimeUnit.MILLISECONDS);
        if (settings.enabled()) {
            senders = Executors.newFixedThreadPool(settings.concurrency(), daemon("outbox-dispatch"));
            scheduler.scheduleWithFixedDelay(this::poll, 0, settings.pollInterval().toMillis(), TimeUnit.MILLISECONDS);
            log.atInfo().addKeyValue("worker_url", dispatchUri.toString()).addKeyValue("callback_base_url", callbackBase)
                .log("job dispatcher started");
        }
        running = true;
    }

    @Override
    public synchronized void stop() {
        running = false;
        if (scheduler != null) {
            scheduler.shutdownNow();
        }
        if (senders != null) {
            senders.shutdown();
            try {
                // In-flight calls finish (bounded by the read timeout); unfinished rows keep their lease and are retried.
                senders.awaitTermination(settings.readTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
            }
            senders.shutdownNow();
        }
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /**
     * Stops after the web server's graceful drain (a lower phase stops later), so result callbacks
     * still in flight finish first and chaos faults are reverted without waiting for dispatch calls.
     */
    @Override
    public int getPhase() {
        return SmartLifecycle.DEFAULT_PHASE - 4096;
    }

    /** Poll now instead of at the next tick (a job was just accepted, or a sender became free). */
    public void nudge() {
        ScheduledExecutorService current = scheduler;
        if (running && settings.enabled() && current != null) {
            try {
                current.execute(this::poll);
            } catch (RejectedExecutionException ex) {
                // stopping
            }
        }
    }

    private void maintain() {
        try {
            if (settings.enabled()) {
                sweepStale();
            }
            metrics.refresh();
        } catch (RuntimeException ex) {
            dbWarn("jobs maintenance failed", ex);
        }
    }

    /**
     * One stale sweep, in one transaction: DISPATCHED jobs without a result for the stale timeout
     * become FAILED ({@code dispatch_exhausted}) once workers have taken them max-dispatches times
     * (a poison job that crashes its worker every time must end), the others are re-queued.
     *
     * @return how many jobs were re-queued
     */
    int sweepStale() {
        record Swept(List<JobRepository.Exhausted> exhausted, int requeued) {
        }
        Swept swept = tx.execute(status -> {
            // Failing first: the re-queue must not see these as stale DISPATCHED jobs.
            List<JobRepository.Exhausted> exhausted = repository.failExhausted(settings.staleTimeout(),
                    settings.maxDispatches(), durationText(settings.staleTimeout()));
            return new Swept(exhausted, repository.requeueStale(settings.staleTimeout(), settings.maxDispatches()));
        });
        if (!swept.exhausted().isEmpty()) {
            exhaustedCounter.increment(swept.exhausted().size());
            meters.counter("core.jobs.finished", "status", JobStatus.FAILED.name(), "source", "dispatch")
                .increment(swept.exhausted().size());
            for (JobRepository.Exhausted job : swept.exhausted()) {
                try {
                    if (job.requestId() != null) {
                        MDC.put(RequestIds.MDC_KEY, job.requestId());
                    }
                    log.atWarn().addKeyValue("job_id", job.jobId().toString())
                        .addKeyValue("dispatches", job.deliveries())
                        .addKeyValue("max_dispatches", settings.maxDispatches())
                        .addKeyValue("stale_timeout_ms", settings.staleTimeout().toMillis())
                        .log("job dispatch exhausted; marked FAILED");
                } finally {
                    MDC.remove(RequestIds.MDC_KEY);
                }
            }
        }
        if (swept.requeued() > 0) {
            meters.counter("core.jobs.redispatched").increment(swept.requeued());
            log.atWarn().addKeyValue("jobs", swept.requeued()).addKeyValue("stale_timeout_ms", settings.staleTimeout().toMillis())
                .log("stale dispatched jobs re-queued");
            nudge();
        }
        return swept.requeued();
    }

    /** "120s", "1500ms": the stale timeout as an operator would set it, for the dispatch_exhausted message. */
    static String durationText(Duration duration) {
        long millis = duration.toMillis();
        return (millis % 1000 == 0) ? (millis / 1000) + "s" : millis + "ms";
    }

    private void poll() {
        try {
            int free = settings.concurrency() - inFlight.get();
            if (free <= 0) {
                return;
            }
            List<JobRepository.Claimed> claimed = tx.execute(status -> repository.claimDue(free, settings.lease()));
            for (JobRepository.Claimed job : claimed) {
                inFlight.incrementAndGet();
                try {
                    senders.execute(() -> {
                        try {
                            dispatch(job);
                        } finally {
                            inFlight.decrementAndGet();
                            nudge();
                        }
                    });
                } catch (RejectedExecutionException ex) {
                    inFlight.decrementAndGet(); // stopping: the lease expires and someone retries it
                }
            }
        } catch (RuntimeException ex) {
            dbWarn("outbox poll failed", ex);
        }
    }

    void dispatch(JobRepository.Claimed job) {
        String requestId = (job.requestId() != null) ? job.requestId() : RequestIds.generate();
        MDC.put(RequestIds.MDC_KEY, requestId);
        MDC.put("job_id", job.jobId().toString());
        try {
            if (job.status().terminal()) {
                tx.executeWithoutResult(status -> repository.deleteOutbox(job.jobId()));
                return;
            }
            Outcome outcome;
            int code = 0;
            String retryAfter = null;
            String responseBody = "";
            long started = System.nanoTime();
            try {
                HttpResponse<String> response = http.send(request(job, requestId), HttpResponse.BodyHandlers.ofString());
                code = response.statusCode();
                retryAfter = response.headers().firstValue("Retry-After").orElse(null);
                responseBody = response.body();
                outcome = Outcome.of(code);
            } catch (HttpTimeoutException ex) {
                outcome = Outcome.TIMEOUT;
            } catch (IOException ex) {
                outcome = Outcome.CONNECTION_ERROR;
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                return; // stopping: the lease expires and the row is retried
            }
            long elapsed = System.nanoTime() - started;
            meters.counter("core.dispatch.attempts", "outcome", outcome.tag).increment();
            Timer.builder("core.dispatch.duration").tag("outcome", outcome.tag).register(meters)
                .record(elapsed, TimeUnit.NANOSECONDS);
            handle(job, outcome, code, retryAfter, responseBody, elapsed / 1_000_000.0);
        } catch (RuntimeException ex) {
            dbWarn("dispatch bookkeeping failed; the outbox row is retried after its lease", ex);
        } finally {
            MDC.remove("job_id");
            MDC.remove(RequestIds.MDC_KEY);
        }
    }

    private HttpRequest request(JobRepository.Claimed job, String requestId) {
        ObjectNode body = json.createObjectNode();
        body.put("job_id", job.jobId().toString());
        body.put("type", job.type());
        try {
            body.set("payload", json.readTree(job.payload()));
        } catch (IOException ex) {
            throw new IllegalStateException("stored payload is not JSON", ex);
        }
        body.put("attempt", job.attempt());
        body.put("callback_url", callbackBase + "/internal/jobs/" + job.jobId() + "/result");
        return HttpRequest.newBuilder(dispatchUri)
            .timeout(settings.readTimeout())
            .header("Content-Type", "application/json")
            .header(RequestIds.HEADER, requestId)
            .POST(HttpRequest.BodyPublishers.ofString(body.toString(), StandardCharsets.UTF_8))
            .build();
    }

    private void handle(JobRepository.Claimed job, Outcome outcome, int code, String retryAfter, String body,
            double durationMs) {
        switch (outcome) {
            case ACCEPTED, DUPLICATE -> {
                tx.executeWithoutResult(status -> {
                    repository.deleteOutbox(job.jobId());
                    repository.markDispatched(job.jobId());
                });
                log.atInfo().addKeyValue("outcome", outcome.tag).addKeyValue("attempt", job.attempt())
                    .addKeyValue("status", code).addKeyValue("duration_ms", round(durationMs)).log("job dispatched");
            }
            case REJECTED -> {
                ObjectNode error = json.createObjectNode();
                error.put("kind", "invalid");
                // U+0000 in the worker's answer would make the jsonb UPDATE fail and the job loop forever.
                error.put("message", Jsonb.replaceNul("worker rejected the job: " + truncate(body, 300)));
                boolean finished = Boolean.TRUE.equals(tx.execute(status -> {
                    repository.deleteOutbox(job.jobId());
                    return repository.finish(job.jobId(), JobStatus.FAILED, null, error.toString());
                }));
                if (finished) {
                    meters.counter("core.jobs.finished", "status", JobStatus.FAILED.name(), "source", "dispatch").increment();
                }
                log.atWarn().addKeyValue("outcome", outcome.tag).addKeyValue("attempt", job.attempt())
                    .addKeyValue("status", code).log("job rejected by worker; marked FAILED");
            }
            default -> {
                Duration delay = (outcome == Outcome.THROTTLED) ? retryAfterDelay(retryAfter, job.outboxAttempts())
                        : backoff(job.outboxAttempts());
                String reason = outcome.tag + ((code > 0) ? " " + code : "");
                tx.executeWithoutResult(status -> repository.reschedule(job.jobId(), delay, reason));
                var event = log.atWarn().addKeyValue("outcome", outcome.tag).addKeyValue("attempt", job.attempt())
                    .addKeyValue("retry_in_ms", delay.toMillis()).addKeyValue("duration_ms", round(durationMs));
                if (code > 0) {
                    event = event.addKeyValue("status", code);
                }
                event.log("job dispatch failed; will retry");
            }
        }
    }

    /** Exponential backoff with equal jitter: half the capped delay fixed, half random. */
    Duration backoff(int attempts) {
        long cap = settings.backoffMax().toMillis();
        long base = settings.backoffInitial().toMillis();
        long exp = (attempts >= 31) ? cap : Math.min(cap, base << Math.max(0, attempts - 1));
        long half = exp / 2;
        return Duration.ofMillis(half + ThreadLocalRandom.current().nextLong(half + 1));
    }

    Duration retryAfterDelay(String header, int attempts) {
        if (header != null) {
            try {
                long seconds = Long.parseLong(header.trim());
                long millis = Math.min(Math.max(0, seconds) * 1000, settings.retryAfterMax().toMillis());
                // A little jitter so throttled replicas do not come back in lockstep.
                return Duration.ofMillis(millis + ThreadLocalRandom.current().nextLong(millis / 10 + 1));
            } catch (NumberFormatException ex) {
                // HTTP-date or garbage: fall back to our own backoff
            }
        }
        return backoff(attempts);
    }

    private void dbWarn(String msg, RuntimeException ex) {
        long now = System.nanoTime();
        if (now - lastDbWarn > DB_WARN_INTERVAL_NANOS || lastDbWarn == 0) {
            lastDbWarn = now;
            log.atWarn().addKeyValue("cause", ex.getClass().getSimpleName() + ": " + ex.getMessage()).log(msg);
        }
    }

    private static double round(double ms) {
        return Math.round(ms * 1000) / 1000.0;
    }

    private static String truncate(String text, int max) {
        String oneLine = (text == null) ? "" : text.replaceAll("\\s+", " ").trim();
        return (oneLine.length() <= max) ? oneLine : oneLine.substring(0, max) + "...";
    }

    private static String stripSlash(String url) {
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        AtomicInteger n = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, name + "-" + n.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }

    enum Outcome {
        ACCEPTED("accepted"), DUPLICATE("duplicate"), THROTTLED("throttled"), UNAVAILABLE("unavailable"),
        REJECTED("rejected"), CLIENT_ERROR("client_error"), SERVER_ERROR("server_error"), TIMEOUT("timeout"),
        CONNECTION_ERROR("connection_error");

        final String tag;

        Outcome(String tag) {
            this.tag = tag;
        }

        static Outcome of(int code) {
            if (code == 202) {
                return ACCEPTED;
            } else if (code == 200) {
                return DUPLICATE;
            } else if (code == 429) {
                return THROTTLED;
            } else if (code == 503) {
                return UNAVAILABLE;
            } else if (code == 400) {
                return REJECTED;
            } else if (code >= 500) {
                return SERVER_ERROR;
            }
            return CLIENT_ERROR; // other 2xx/3xx/4xx: unexpected; retry with backoff
        }
    }
}
