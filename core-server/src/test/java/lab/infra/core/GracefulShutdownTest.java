package lab.infra.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.context.TypeExcludeFilter;
import org.springframework.boot.web.servlet.context.ServletWebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.type.classreading.MetadataReader;
import org.springframework.core.type.classreading.MetadataReaderFactory;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * Closing the context (what SIGTERM does) lets an in-flight request finish and stops new
 * work. The app is started by hand: a Spring-managed test context must not be closed by the
 * test itself.
 */
class GracefulShutdownTest {

    static final CountDownLatch entered = new CountDownLatch(1);

    @Test
    void inFlightRequestCompletesDuringShutdown() throws Exception {
        ConfigurableApplicationContext app = new SpringApplicationBuilder(CoreServerApplication.class,
                SlowController.class)
            .initializers(context -> context.getBeanFactory()
                .registerSingleton("excludeTestClasses", new ExcludeTestClasses()))
            .run("--server.port=0", "--management.server.port=0");
        int appPort = ((ServletWebServerApplicationContext) app).getWebServer().getPort();

        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        CompletableFuture<HttpResponse<String>> inFlight = http.sendAsync(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + appPort + "/test/slow")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(entered.await(5, TimeUnit.SECONDS)).isTrue();

        long start = System.nanoTime();
        app.close();
        long closeMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

        HttpResponse<String> response = inFlight.get(5, TimeUnit.SECONDS);
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("done");
        // close() waited for the request instead of cutting it off.
        assertThat(closeMs).isGreaterThanOrEqualTo(500);
        // And the port no longer accepts work.
        assertThatThrownBy(() -> http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + appPort + "/api/health")).build(),
                HttpResponse.BodyHandlers.ofString())).isInstanceOf(IOException.class);
    }

    @RestController
    static class SlowController {
        @GetMapping("/test/slow")
        String slow() throws InterruptedException {
            entered.countDown();
            Thread.sleep(1_000);
            return "done";
        }
    }

    /** Keeps component scanning away from the helper classes nested in test classes. */
    static class ExcludeTestClasses extends TypeExcludeFilter {
        @Override
        public boolean match(MetadataReader reader, MetadataReaderFactory factory) {
            return reader.getClassMetadata().getClassName().contains("Test$");
        }
    }
}
