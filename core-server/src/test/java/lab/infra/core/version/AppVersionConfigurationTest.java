package lab.infra.core.version;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.stream.Stream;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.pattern.ThrowableProxyConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.sentry.SentryOptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;
import org.springframework.mock.env.MockEnvironment;

import lab.infra.core.logging.ContractJsonLogFormatter;

/**
 * The metric, the Sentry release and the startup line for set, unset and awkward build values, without a
 * Spring context (VersionIntegrationTest checks the real endpoints).
 */
class AppVersionConfigurationTest {

    private static final String COMMIT = "6492e4b1c0de5f0a9e3b7c1d2f4a6b8c9d0e1f2a";

    private final AppVersionConfiguration configuration = new AppVersionConfiguration();

    static Stream<Arguments> builds() {
        return Stream.of(
            // APP_VERSION, APP_COMMIT, exposition line (labels sorted; service is the registry's common tag)
            Arguments.of("6492e4b1c0de", COMMIT,
                "build_info{commit=\"" + COMMIT + "\",service=\"core-server\",version=\"6492e4b1c0de\"} 1"),
            Arguments.of("6492e4b1c0de-dirty", COMMIT,
                "build_info{commit=\"" + COMMIT + "\",service=\"core-server\",version=\"6492e4b1c0de-dirty\"} 1"),
            Arguments.of(null, null, "build_info{commit=\"unknown\",service=\"core-server\",version=\"dev\"} 1"),
            Arguments.of("", "", "build_info{commit=\"unknown\",service=\"core-server\",version=\"dev\"} 1"),
            // Quote, backslash and newline are escaped by the exposition writer, not dropped or rejected.
            Arguments.of("v\"1\\x\ny", "c} 2",
                "build_info{commit=\"c} 2\",service=\"core-server\",version=\"v\\\"1\\\\x\\ny\"} 1"));
    }

    private static AppVersion build(String version, String commit) {
        return AppVersion.from(environment(version, commit));
    }

    private static MockEnvironment environment(String version, String commit) {
        MockEnvironment environment = new MockEnvironment().withProperty("spring.application.name", "core-server");
        if (version != null) {
            environment.setProperty("app.version", version);
        }
        if (commit != null) {
            environment.setProperty("app.commit", commit);
        }
        return environment;
    }

    @ParameterizedTest
    @MethodSource("builds")
    void buildInfoIsOneInfoLineWithTheServiceCommonTag(String version, String commit, String expected) {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        // What management.metrics.tags.service does to every meter.
        registry.config().commonTags("service", "core-server");
        configuration.buildInfoMetric(build(version, commit)).bindTo(registry);

        List<String> samples = registry.scrape().lines().filter(l -> l.startsWith("build")).toList();
        assertThat(samples).containsExactly(expected);
        assertThat(registry.scrape()).contains("# TYPE build_info gauge");
    }

    @ParameterizedTest
    @MethodSource("builds")
    void sentryReleaseIsServiceAtVersionWhateverWasConfiguredBefore(String version, String commit, String ignored)
            throws Exception {
        SentryOptions options = new SentryOptions();
        // As bound from sentry.release or SENTRY_RELEASE: APP_VERSION must still win.
        options.setRelease("core-server@0.1.0");
        AppVersion build = build(version, commit);
        configuration.sentryRelease(build, "core-server").configure(options);
        assertThat(options.getRelease()).isEqualTo("core-server@" + build.version());
        assertThat(options.getRelease()).isEqualTo(version == null || version.isEmpty()
                ? "core-server@dev" : "core-server@" + version);
    }

    @ParameterizedTest
    @MethodSource("builds")
    void startupLineNamesVersionAndCommit(String version, String commit, String ignored) throws Exception {
        Logger logger = (Logger) LoggerFactory.getLogger(AppVersionConfiguration.class);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        try {
            AppVersion build = build(version, commit);
            configuration.startupLine(build).ready();

            assertThat(appender.list).hasSize(1);
            MockEnvironment environment = environment(version, commit);
            ThrowableProxyConverter converter = new ThrowableProxyConverter();
            converter.setContext(logger.getLoggerContext());
            converter.start();
            String line = new ContractJsonLogFormatter(environment, converter).format(appender.list.get(0));
            JsonNode json = new ObjectMapper().readTree(line);
            assertThat(json.get("level").asText()).isEqualTo("info");
            assertThat(json.get("msg").asText()).startsWith("service started");
            assertThat(json.get("version").asText()).isEqualTo(build.version());
            assertThat(json.get("commit").asText()).isEqualTo(build.commit());
        } finally {
            logger.detachAppender(appender);
        }
    }
}
