package lab.infra.core.chaos;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/** One injected fault: what was asked, when it ends, and the effect to revert. */
public final class ActiveFault {

    /** RFC 3339 UTC with milliseconds, the same shape as the log's {@code ts}. */
    private static final DateTimeFormatter RFC3339 =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    private final ChaosKind kind;
    private final Map<String, Integer> params;
    private final Instant startedAt;
    private final Instant expiresAt;
    private final CountDownLatch reverted = new CountDownLatch(1);
    private volatile FaultEffect effect = FaultEffect.NONE;
    private volatile ScheduledFuture<?> expiry;

    ActiveFault(ChaosKind kind, Map<String, Integer> params, Instant startedAt) {
        this.kind = kind;
        // Unmodifiable, in the contract's order (the JSON and the log lines keep it).
        this.params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
        this.startedAt = startedAt;
        this.expiresAt = startedAt.plusSeconds(params.get(ChaosKind.DURATION.name()));
    }

    public ChaosKind kind() {
        return kind;
    }

    /** Parameter value, defaults filled. */
    public int param(String name) {
        return params.get(name);
    }

    public Map<String, Integer> params() {
        return params;
    }

    public Instant expiresAt() {
        return expiresAt;
    }

    String expiresAtText() {
        return RFC3339.format(expiresAt);
    }

    boolean isReverted() {
        return reverted.getCount() == 0;
    }

    /**
     * Waits up to {@code millis}, returning early when the fault is reverted (so DELETE and
     * shutdown release delayed requests at once). Returns false when interrupted.
     */
    boolean sleepUnlessReverted(long millis) {
        try {
            reverted.await(millis, TimeUnit.MILLISECONDS);
            return true;
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    void start(FaultEffect effect, ScheduledFuture<?> expiry) {
        this.effect = effect;
        this.expiry = expiry;
    }

    /** Idempotent. */
    void revert() {
        if (isReverted()) {
            return;
        }
        reverted.countDown();
        ScheduledFuture<?> scheduled = expiry;
        if (scheduled != null) {
            scheduled.cancel(false);
        }
        effect.revert();
    }

    /** The contract's {@code Fault} object. */
    Map<String, Object> toJson(Instant now) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("kind", kind.id());
        json.put("params", params);
        json.put("started_at", RFC3339.format(startedAt));
        json.put("expires_at", expiresAtText());
        long remainingMillis = Math.max(0, Duration.between(now, expiresAt).toMillis());
        json.put("remaining_seconds", (remainingMillis + 999) / 1000);
        // Progress of effects that can fall short, at the top level like worker-server's
        // written_mib: disk (written_mib, path, status), memory (retained_mib, out_of_memory).
        effect.state().forEach(json::putIfAbsent);
        return json;
    }
}
