package lab.infra.core.chaos;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Busy loops in this process: {@code workers} threads, each busy for {@code load_percent} of
 * every 100 ms slice and asleep for the rest.
 */
final class CpuBurn implements FaultEffect {

    private static final long SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean stopped;
    // Written by the loops so the JIT cannot drop them as dead code.
    @SuppressWarnings("unused")
    private volatile long sink;

    CpuBurn(int workers, int loadPercent) {
        long busyNanos = SLICE_NANOS * loadPercent / 100;
        for (int i = 0; i < workers; i++) {
            Thread thread = new Thread(() -> burn(busyNanos), "chaos-cpu-" + i);
            thread.setDaemon(true);
            threads.add(thread);
        }
        threads.forEach(Thread::start);
    }

    private void burn(long busyNanos) {
        long x = 0;
        while (!stopped) {
            long sliceStart = System.nanoTime();
            while (System.nanoTime() - sliceStart < busyNanos) {
                for (int i = 0; i < 10_000; i++) {
                    x = x * 6364136223846793005L + 1442695040888963407L;
                }
            }
            sink = x;
            long idleNanos = SLICE_NANOS - (System.nanoTime() - sliceStart);
            if (idleNanos > 0) {
                try {
                    TimeUnit.NANOSECONDS.sleep(idleNanos);
                } catch (InterruptedException ex) {
                    return;
                }
            }
        }
    }

    @Override
    public void revert() {
        stopped = true;
        for (Thread thread : threads) {
            thread.interrupt();
        }
        for (Thread thread : threads) {
            try {
                thread.join(1_000);
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
