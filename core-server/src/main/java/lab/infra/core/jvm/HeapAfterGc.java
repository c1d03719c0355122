package lab.infra.core.jvm;

/**
 * When a collection leaves the heap too full to say nothing: a heap that is still over
 * {@code threshold} of its maximum right after a GC is a leak or an undersized heap, not garbage
 * waiting to be collected. At most one warning per {@code intervalMillis}: a heap under pressure
 * collects many times a second.
 */
record HeapAfterGc(double threshold, long intervalMillis) {

    /** The JvmHeapHigh alert's threshold (monitoring/prometheus/rules/core-server.yml). */
    static final double DEFAULT_THRESHOLD = 0.8;
    static final long DEFAULT_INTERVAL_MILLIS = 30_000;

    HeapAfterGc {
        if (threshold < 0 || threshold > 1 || intervalMillis < 0) {
            throw new IllegalArgumentException("threshold in [0, 1] and a non-negative interval, got "
                    + threshold + ", " + intervalMillis);
        }
    }

    /** Whether to warn now, given the heap after this collection and when the last warning was. */
    boolean warn(long usedAfterGc, long max, long nowMillis, long lastWarnedMillis) {
        if (max <= 0) {
            return false; // no maximum: nothing to be full against
        }
        boolean full = (double) usedAfterGc / max > threshold;
        return full && (lastWarnedMillis < 0 || nowMillis - lastWarnedMillis >= intervalMillis);
    }
}
