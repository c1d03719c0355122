package lab.infra.core.chaos;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.SmartLifecycle;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Service;

/**
 * Holds the active faults (at most one per kind), starts and reverts their effects, expires
 * them on schedule, and exports {@code chaos_fault_active{kind}} and
 * {@code chaos_injections_total{kind}} for all five kinds.
 *
 * <p>As a {@link SmartLifecycle} in the last phase it is stopped first on shutdown, before the
 * web server's graceful shutdown, so delayed requests are released and every effect is
 * reverted while the server drains.
 */
@Service
public class ChaosService implements SmartLifecycle, DisposableBean {

    static final String INJECTED = "chaos fault injected";
    static final String REVERTED = "chaos fault reverted";
    static final String EXPIRED = "chaos fault expired";

    private static final Logger log = LoggerFactory.getLogger(ChaosService.class);

    private final Map<ChaosKind, ActiveFault> active = new ConcurrentHashMap<>();
    private final Map<ChaosKind, Counter> injections = new ConcurrentHashMap<>();
    private final ScheduledExecutorService scheduler;
    private final Path diskPath;
    private final Clock clock;
    private volatile boolean running;

    public ChaosService(MeterRegistry registry, @Value("${chaos.disk.path:/tmp/core-chaos}") Path diskPath) {
        this.diskPath = diskPath;
        this.clock = Clock.systemUTC();
        ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1, runnable -> {
            Thread thread = new Thread(runnable, "chaos-expiry");
            thread.setDaemon(true);
            return thread;
        });
        // Cancelled expiries (DELETE before expiry) must not pile up in the queue.
        executor.setRemoveOnCancelPolicy(true);
        this.scheduler = Executors.unconfigurableScheduledExecutorService(executor);
        for (ChaosKind kind : ChaosKind.values()) {
            Gauge.builder("chaos.fault.active", active, faults -> faults.containsKey(kind) ? 1 : 0)
                .tag("kind", kind.id())
                .description("1 while a chaos fault of this kind is active")
                .register(registry);
            injections.put(kind, Counter.builder("chaos.injections")
                .tag("kind", kind.id())
                .description("Chaos faults injected")
                .register(registry));
        }
    }

    /** Active faults, in the contract's kind order. */
    public List<ActiveFault> activeFaults() {
        List<ActiveFault> faults = new ArrayList<>();
        for (ChaosKind kind : ChaosKind.values()) {
            ActiveFault fault = active.get(kind);
            if (fault != null) {
                faults.add(fault);
            }
        }
        return faults;
    }

    /** The active fault of a kind; cheap enough for every app-port request. */
    public Optional<ActiveFault> active(ChaosKind kind) {
        return Optional.ofNullable(active.get(kind));
    }

    /**
     * Starts a fault.
     *
     * @param params {@code duration_seconds} and every kind parameter, as validated by
     *        {@link ChaosRequestParser}
     * @throws ChaosException 409 when a fault of the kind is already active
     */
    public synchronized ActiveFault inject(ChaosKind kind, Map<String, Integer> params) {
        if (!running) {
            throw new ChaosException(HttpStatus.SERVICE_UNAVAILABLE, "unavailable", "chaos: service is shutting down");
        }
        ActiveFault current = active.get(kind);
        if (current != null) {
            throw ChaosException.conflict(kind.id() + ": a fault of this kind is already active until "
                    + current.expiresAtText() + "; DELETE /internal/chaos/" + kind.id()
                    + " first");
        }
        ActiveFault fault = new ActiveFault(kind, params, clock.instant());
        FaultEffect effect = startEffect(fault);
        long delayMillis = Math.max(0, fault.expiresAt().toEpochMilli() - clock.millis());
        ScheduledFuture<?> expiry = scheduler.schedule(() -> expire(fault), delayMillis, TimeUnit.MILLISECONDS);
        fault.start(effect, expiry);
        active.put(kind, fault);
        injections.get(kind).increment();
        log.atInfo().addKeyValue("kind", kind.id()).addKeyValue("params", fault.params()).log(INJECTED);
        return fault;
    }

    private FaultEffect startEffect(ActiveFault fault) {
        return switch (fault.kind()) {
            case CPU -> new CpuBurn(fault.param("workers"), fault.param("load_percent"));
            case MEMORY -> new MemoryLeak(fault.param("rate_mib_per_second"), fault.param("max_mib"));
            case DISK -> startDisk(fault.param("size_mib"));
            // Applied per request on the app port by ChaosLatencyFilter / ChaosErrorInterceptor.
            case LATENCY, ERRORS -> FaultEffect.NONE;
        };
    }

    private FaultEffect startDisk(int sizeMib) {
        try {
            return new DiskBallast(diskPath, sizeMib);
        } catch (IOException ex) {
            log.atError().addKeyValue("kind", "disk").addKeyValue("path", diskPath.toString()).setCause(ex)
                .log("chaos disk ballast could not be created");
            throw new ChaosException(HttpStatus.INTERNAL_SERVER_ERROR, "internal_error",
                    "disk: cannot create a ballast file under " + diskPath + " (" + ex.getClass().getSimpleName()
                            + ": " + ex.getMessage() + "); set CHAOS_DISK_PATH to a writable directory");
        }
    }

    /**
     * Reverts one fault.
     *
     * @throws ChaosException 404 when no fault of that kind is active
     */
    public synchronized void revert(ChaosKind kind) {
        ActiveFault fault = active.get(kind);
        if (fault == null) {
            throw ChaosException.notFound(kind.id() + ": no active fault of this kind");
        }
        end(fault, REVERTED, "delete");
    }

    /** Reverts every active fault and returns their kinds (possibly none). */
    public synchronized List<ChaosKind> revertAll(String reason) {
        List<ChaosKind> reverted = new ArrayList<>();
        for (ActiveFault fault : activeFaults()) {
            end(fault, REVERTED, reason);
            reverted.add(fault.kind());
        }
        return reverted;
    }

    private synchronized void expire(ActiveFault fault) {
        // A DELETE may have won the race, or a new fault of the same kind may be active.
        if (active.get(fault.kind()) == fault) {
            end(fault, EXPIRED, "expired");
        }
    }

    private void end(ActiveFault fault, String message, String reason) {
        active.remove(fault.kind(), fault);
        try {
            fault.revert();
        } finally {
            log.atInfo().addKeyValue("kind", fault.kind().id()).addKeyValue("params", fault.params())
                .addKeyValue("reason", reason).log(message);
        }
    }

    Instant now() {
        return clock.instant();
    }

    @Override
    public void start() {
        DiskBallast.prepareDirectory(diskPath);
        DiskBallast.removeLeftovers(diskPath);
        running = true;
    }

    @Override
    public synchronized void stop() {
        running = false;
        revertAll("shutdown");
    }

    /** Also covers contexts closed without a lifecycle stop (e.g. a failed startup). */
    @Override
    public void destroy() {
        running = false;
        revertAll("shutdown");
        scheduler.shutdownNow();
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** Last phase, so it stops first: before the web server's graceful shutdown drains requests. */
    @Override
    public int getPhase() {
        return SmartLifecycle.DEFAULT_PHASE;
    }
}
