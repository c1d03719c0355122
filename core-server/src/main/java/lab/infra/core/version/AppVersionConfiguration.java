package lab.infra.core.version;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.sentry.Sentry;
import io.sentry.SentryOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.event.EventListener;
import org.springframework.core.env.Environment;

/**
 * Makes the running build visible: the {@code build_info} metric, the Sentry release and a startup
 * line (the health JSON and the log formatter read {@link AppVersion} themselves).
 */
@Configuration(proxyBeanMethods = false)
public class AppVersionConfiguration {

    /**
     * Micrometer turns a gauge whose name ends in {@code .info} into a Prometheus info metric:
     * {@code build_info{commit,service,version} 1} (the {@code service} tag is the common tag of
     * management.metrics.tags), not {@code build_info_info} or a bare {@code build} gauge.
     */
    static final String BUILD_INFO = "build.info";

    private static final Logger log = LoggerFactory.getLogger(AppVersionConfiguration.class);

    @Bean
    AppVersion appVersion(Environment environment) {
        return AppVersion.from(environment);
    }

    @Bean
    MeterBinder buildInfoMetric(AppVersion build) {
        return registry -> Gauge.builder(BUILD_INFO, () -> 1)
            .tag("version", build.version())
            .tag("commit", build.commit())
            .description("The running build (APP_VERSION, APP_COMMIT); always 1")
            .register(registry);
    }

    /**
     * The release comes from APP_VERSION only: applied after the {@code sentry.*} properties are bound,
     * so a stray {@code sentry.release} / SENTRY_RELEASE cannot make events disagree with the metric.
     */
    @Bean
    Sentry.OptionsConfiguration<SentryOptions> sentryRelease(AppVersion build,
            @Value("${spring.application.name}") String service) {
        return options -> options.setRelease(build.release(service));
    }

    @Bean
    StartupLine startupLine(AppVersion build) {
        return new StartupLine(build);
    }

    /** One line when the service is ready, so a deploy can be matched to the version that came up. */
    static final class StartupLine {

        private final AppVersion build;

        StartupLine(AppVersion build) {
            this.build = build;
        }

        @EventListener(ApplicationReadyEvent.class)
        void ready() {
            // The formatter writes "version" on every line already; "commit" is this line's own field.
            log.atInfo().addKeyValue("commit", build.commit()).log("service started, version {} commit {}",
                    build.version(), build.commit());
        }
    }
}
