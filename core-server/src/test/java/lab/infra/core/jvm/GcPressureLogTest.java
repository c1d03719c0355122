package lab.infra.core.jvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

@ExtendWith(OutputCaptureExtension.class)
class GcPressureLogTest {

    @Test
    void aCollectionThatLeavesTheHeapFullIsLogged(CapturedOutput output) {
        // Threshold 0: any heap in use after a collection counts as full; the real GC's notification.
        GcPressureLog pressure = new GcPressureLog(new HeapAfterGc(0.0, 0));
        pressure.listen();
        try {
            System.gc();
            await().atMost(Duration.ofSeconds(10))
                .untilAsserted(() -> assertThat(output.getOut()).contains("heap still full after GC"));
            // Key-value or JSON, whichever layout the JVM's logging has by now: the fields are there.
            assertThat(output.getOut()).contains("heap_after_gc_mib").contains("System.gc()");
        } finally {
            pressure.stop();
        }
    }
}
