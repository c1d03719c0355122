package lab.infra.core.chaos;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A deliberate leak: retains 1 MiB byte arrays at {@code rate_mib_per_second} up to
 * {@code max_mib}, writing into every page so the memory is really resident. Everything is
 * released (made unreachable) on revert.
 *
 * <p>The leak lives on the Java heap, so the heap limit applies first: with the image's
 * {@code jvm.options} (MaxRAMPercentage=50 of a 512 MiB container, about 256 MiB of heap) a
 * {@code max_mib} above what is free ends in a real {@link OutOfMemoryError}, and
 * {@code -XX:+ExitOnOutOfMemoryError} makes the process exit; that is the intended drill. Without
 * that flag the leak stops growing, keeps what it has and reports {@code out_of_memory}.
 */
final class MemoryLeak implements FaultEffect {

    private static final Logger log = LoggerFactory.getLogger(MemoryLeak.class);
    private static final int CHUNK = 1024 * 1024;
    private static final int PAGE = 4096;
    private static final long TICK_MILLIS = 50;

    private final int rateMibPerSecond;
    private final int maxMib;
    private final Thread thread;
    private volatile List<byte[]> retained = new ArrayList<>();
    private volatile int retainedMib;
    private volatile boolean outOfMemory;
    private volatile boolean stopped;

    MemoryLeak(int rateMibPerSecond, int maxMib) {
        this.rateMibPerSecond = rateMibPerSecond;
        this.maxMib = maxMib;
        this.thread = new Thread(this::leak, "chaos-memory");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    private void leak() {
        long start = System.nanoTime();
        List<byte[]> chunks = retained;
        try {
            while (!stopped && retainedMib < maxMib) {
                double elapsedSeconds = (System.nanoTime() - start) / 1e9;
                // Rounded up: the first MiB is due at once, then the rate is kept on average.
                long due = Math.min(maxMib, (long) Math.ceil(rateMibPerSecond * elapsedSeconds));
                while (!stopped && retainedMib < due) {
                    byte[] chunk = new byte[CHUNK];
                    for (int i = 0; i < CHUNK; i += PAGE) {
                        chunk[i] = 1;
                    }
                    chunks.add(chunk);
                    retainedMib++;
                }
                Thread.sleep(TICK_MILLIS);
            }
        } catch (InterruptedException ex) {
            // reverted
        } catch (OutOfMemoryError ex) {
            // Only reached without -XX:+ExitOnOutOfMemoryError. Keep what is held: the fault is
            // still a leak until it is reverted.
            outOfMemory = true;
            log.atError().addKeyValue("kind", "memory").addKeyValue("retained_mib", retainedMib)
                .log("chaos memory leak hit OutOfMemoryError; holding what it has");
        }
    }

    @Override
    public void revert() {
        stopped = true;
        thread.interrupt();
        try {
            thread.join(2_000);
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
        }
        // Unreachable from here on. The old generation would give it back only at the next
        // full collection, which a lightly loaded lab may not run for a long time: the heap
        // (and the heap alert) would stay up after the fault is gone. Ask for one now.
        retained = new ArrayList<>();
        System.gc();
    }

    @Override
    public Map<String, Object> state() {
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("retained_mib", retainedMib);
        state.put("out_of_memory", outOfMemory);
        return state;
    }
}
