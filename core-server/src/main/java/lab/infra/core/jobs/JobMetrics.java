package lab.infra.core.jobs;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.stereotype.Component;

/**
 * Gauges read from the database by the maintenance tick (not on scrape, so a slow database never
 * slows /actuator/prometheus): {@code core_jobs{status}}, {@code core_outbox_size},
 * {@code core_outbox_lag_seconds} (age of the oldest undelivered outbox row; 0 when empty).
 */
@Component
class JobMetrics {

    private final JobRepository repository;
    private final Map<JobStatus, AtomicLong> counts = new EnumMap<>(JobStatus.class);
    private final AtomicLong outboxSize = new AtomicLong();
    private final AtomicLong outboxLagMillis = new AtomicLong();

    JobMetrics(JobRepository repository, MeterRegistry meters) {
        this.repository = repository;
        for (JobStatus status : JobStatus.values()) {
            AtomicLong value = new AtomicLong();
            counts.put(status, value);
            Gauge.builder("core.jobs", value, AtomicLong::get).tag("status", status.name())
                .description("Jobs by status (refreshed every sweep interval)").register(meters);
        }
        Gauge.builder("core.outbox.size", outboxSize, AtomicLong::get)
            .description("Jobs waiting in the outbox for a successful dispatch").register(meters);
        Gauge.builder("core.outbox.lag", outboxLagMillis, v -> v.get() / 1000.0).baseUnit("seconds")
            .description("Age of the oldest undelivered outbox row").register(meters);
    }

    void refresh() {
        JobRepository.Stats stats = repository.stats();
        stats.counts().forEach((status, count) -> counts.get(status).set(count));
        outboxSize.set(stats.outboxSize());
        outboxLagMillis.set(Math.round(stats.outboxLagSeconds() * 1000));
    }
}
