package lab.infra.core.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** Binding of jobs.* (JobsConfiguration): a bad max-dispatches stops the start with a clear reason. */
class JobsPropertiesTest {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
        .withUserConfiguration(JobsConfiguration.class)
        .withPropertyValues("jobs.worker-url=http://w:8080", "jobs.callback-base-url=http://c:8080",
                "jobs.dispatch.stale-timeout=120s");

    @Test
    void maxDispatchesBinds() {
        runner.withPropertyValues("jobs.dispatch.max-dispatches=1").run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBean(JobsProperties.class).dispatch().maxDispatches()).isEqualTo(1);
        });
    }

    @Test
    void maxDispatchesBelowOneRefusesToStart() {
        for (String value : new String[] {"0", "-3"}) {
            runner.withPropertyValues("jobs.dispatch.max-dispatches=" + value).run(context -> {
                assertThat(context).hasFailed();
                assertThat(rootMessage(context.getStartupFailure())).isEqualTo(
                        "jobs.dispatch.max-dispatches (JOBS_MAX_DISPATCHES) must be at least 1, got " + value);
            });
        }
        // Unset is as wrong as 0 (application.properties always sets it; a stray profile must not drop it).
        runner.run(context -> assertThat(context).hasFailed());
    }

    private static String rootMessage(Throwable failure) {
        Throwable cause = failure;
        while (cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause.getMessage();
    }
}
