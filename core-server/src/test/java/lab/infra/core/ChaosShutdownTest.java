package lab.infra.core;

import static lab.infra.core.chaos.ChaosParams.params;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.servlet.context.ServletWebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

import lab.infra.core.chaos.ChaosKind;
import lab.infra.core.chaos.ChaosService;

/**
 * Shutdown (SIGTERM closes the context) reverts every fault before the graceful drain: a
 * request held by a 20 s latency fault is released at once and the disk ballast is removed.
 */
class ChaosShutdownTest {

    @TempDir
    Path diskPath;

    @Test
    void closingTheContextRevertsFaultsBeforeTheDrain() throws Exception {
        ConfigurableApplicationContext app = new SpringApplicationBuilder(CoreServerApplication.class)
            .initializers(context -> context.getBeanFactory()
                .registerSingleton("excludeTestClasses", new GracefulShutdownTest.ExcludeTestClasses()))
            .run("--server.port=0", "--management.server.port=0", "--chaos.disk.path=" + diskPath);
        int appPort = ((ServletWebServerApplicationContext) app).getWebServer().getPort();
        ChaosService chaos = app.getBean(ChaosService.class);

        chaos.inject(ChaosKind.LATENCY, params(120, "delay_ms", 20_000, "jitter_ms", 0, "percent", 100));
        chaos.inject(ChaosKind.DISK, params(120, "size_mib", 1));
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        CompletableFuture<HttpResponse<String>> delayed = http.sendAsync(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + appPort + "/api/health")).build(),
                HttpResponse.BodyHandlers.ofString());
        await().atMost(Duration.ofSeconds(10)).until(ChaosShutdownTest::aRequestIsDelayed);

        long start = System.nanoTime();
        app.close();
        long closeMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

        // Answered, not cut off: 503 because readiness is already down while the app drains.
        assertThat(delayed.get(5, TimeUnit.SECONDS).statusCode()).isIn(200, 503);
        // Far below both the 20 s delay and the 10 s graceful-shutdown limit.
        assertThat(closeMs).isLessThan(5_000);
        try (var files = Files.list(diskPath)) {
            assertThat(files.toList()).isEmpty();
        }
    }

    private static boolean aRequestIsDelayed() {
        return Thread.getAllStackTraces().values().stream().anyMatch(stack -> Arrays.stream(stack)
            .anyMatch(frame -> frame.getClassName().equals("lab.infra.core.chaos.ChaosLatencyFilter")));
    }
}
