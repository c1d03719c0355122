package lab.infra.core.chaos;

import static lab.infra.core.chaos.ChaosParams.params;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.http.HttpStatus;

/** The fault registry without HTTP: lifecycle, metrics, expiry and what shutdown reverts. */
class ChaosServiceTest {

    @TempDir
    Path diskPath;

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private ChaosService chaos;

    @BeforeEach
    void start() {
        chaos = new ChaosService(registry, diskPath);
        chaos.start();
    }

    @AfterEach
    void stop() {
        chaos.destroy();
    }

    private double gauge(ChaosKind kind) {
        return registry.get("chaos.fault.active").tag("kind", kind.id()).gauge().value();
    }

    @Test
    void metricsExistForAllKindsAndFollowTheFaults() {
        for (ChaosKind kind : ChaosKind.values()) {
            assertThat(gauge(kind)).isZero();
            assertThat(registry.get("chaos.injections").tag("kind", kind.id()).counter().count()).isZero();
        }
        chaos.inject(ChaosKind.LATENCY, params(60, "delay_ms", 10, "jitter_ms", 0, "percent", 100));
        assertThat(gauge(ChaosKind.LATENCY)).isEqualTo(1);
        assertThat(registry.get("chaos.injections").tag("kind", "latency").counter().count()).isEqualTo(1);

        chaos.revert(ChaosKind.LATENCY);
        assertThat(gauge(ChaosKind.LATENCY)).isZero();
        assertThatThrownBy(() -> chaos.revert(ChaosKind.LATENCY))
            .isInstanceOfSatisfying(ChaosException.class, ex -> assertThat(ex.status()).isEqualTo(HttpStatus.NOT_FOUND));
    }

    @Test
    void faultExpiresByItself() {
        chaos.inject(ChaosKind.ERRORS, params(1, "percent", 100, "status", 500));
        assertThat(chaos.activeFaults()).hasSize(1);
        await().atMost(Duration.ofSeconds(5)).until(() -> chaos.activeFaults().isEmpty());
        assertThat(gauge(ChaosKind.ERRORS)).isZero();
        // A new fault of the same kind is accepted again.
        chaos.inject(ChaosKind.ERRORS, params(1, "percent", 100, "status", 500));
    }

    @Test
    void revertReleasesDelayedRequestsAtOnce() throws Exception {
        ActiveFault fault = chaos.inject(ChaosKind.LATENCY, params(60, "delay_ms", 30_000, "jitter_ms", 0, "percent", 100));
        CompletableFuture<Long> waitedMillis = new CompletableFuture<>();
        Thread request = new Thread(() -> {
            long start = System.nanoTime();
            fault.sleepUnlessReverted(30_000);
            waitedMillis.complete(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
        });
        request.start();
        await().atMost(Duration.ofSeconds(5)).until(() -> request.getState() == Thread.State.TIMED_WAITING);

        chaos.revert(ChaosKind.LATENCY);
        assertThat(waitedMillis.get(5, TimeUnit.SECONDS)).isLessThan(5_000);
    }

    @Test
    void shutdownRevertsEverythingAndRefusesNewFaults() throws Exception {
        chaos.inject(ChaosKind.CPU, params(60, "workers", 1, "load_percent", 10));
        chaos.inject(ChaosKind.DISK, params(60, "size_mib", 2));
        Path ballast = singleBallast();

        chaos.stop();

        assertThat(chaos.activeFaults()).isEmpty();
        assertThat(ballast).doesNotExist();
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().startsWith("chaos-cpu-"));
        assertThatThrownBy(() -> chaos.inject(ChaosKind.CPU, params(5, "workers", 1, "load_percent", 10)))
            .isInstanceOfSatisfying(ChaosException.class,
                    ex -> assertThat(ex.status()).isEqualTo(HttpStatus.SERVICE_UNAVAILABLE));
    }

    @Test
    void ballastLeftByADeadProcessIsRemovedAtStart() throws Exception {
        Path leftover = Files.writeString(diskPath.resolve(DiskBallast.PREFIX + "1.bin"), "x");
        Path foreign = Files.writeString(diskPath.resolve("ballast-other-host-1.bin"), "x");
        new ChaosService(new SimpleMeterRegistry(), diskPath).start();
        assertThat(leftover).doesNotExist();
        // Another replica's ballast on a shared volume is not ours to remove.
        assertThat(foreign).exists();
    }

    @Test
    void missingDiskDirectoryIsCreatedAtStart() {
        // The disk metrics watch this directory from startup on; missing, it would read 0 bytes free.
        Path missing = diskPath.resolve("data/sub");
        ChaosService fresh = new ChaosService(new SimpleMeterRegistry(), missing);
        fresh.start();
        assertThat(missing).isDirectory();
        fresh.destroy();
    }

    @Test
    void unusableDiskPathIsAClearError() throws Exception {
        Path notADirectory = Files.writeString(diskPath.resolve("file"), "x");
        ChaosService broken = new ChaosService(new SimpleMeterRegistry(), notADirectory.resolve("sub"));
        broken.start();
        assertThatThrownBy(() -> broken.inject(ChaosKind.DISK, params(5, "size_mib", 1)))
            .isInstanceOfSatisfying(ChaosException.class, ex -> {
                assertThat(ex.status()).isEqualTo(HttpStatus.INTERNAL_SERVER_ERROR);
                assertThat(ex.getMessage()).startsWith("disk: cannot create a ballast file under");
            });
        assertThat(broken.activeFaults()).isEmpty();
        broken.destroy();
    }

    private Path singleBallast() throws IOException {
        try (var files = Files.list(diskPath)) {
            return files.filter(f -> f.getFileName().toString().startsWith("ballast-")).findFirst().orElseThrow();
        }
    }
}
