package lab.infra.core.version;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.mock.env.MockEnvironment;

/** APP_VERSION/APP_COMMIT as the Environment gives them: kept as they are, unset or blank is a developer build. */
class AppVersionTest {

    static Stream<Arguments> builds() {
        String commit = "6492e4b1c0de5f0a9e3b7c1d2f4a6b8c9d0e1f2a";
        return Stream.of(
            // version property, commit property, expected version, expected commit
            Arguments.of("6492e4b1c0de", commit, "6492e4b1c0de", commit),
            Arguments.of("6492e4b1c0de-dirty", commit, "6492e4b1c0de-dirty", commit),
            Arguments.of(null, null, "dev", "unknown"),
            Arguments.of("", "", "dev", "unknown"),
            Arguments.of("  ", "\t", "dev", "unknown"),
            // Free text from the build is not rejected or trimmed; the writers escape it.
            Arguments.of(" v\"1\\\n", "not-hex {}", " v\"1\\\n", "not-hex {}"));
    }

    @ParameterizedTest
    @MethodSource("builds")
    void readsTheEnvironment(String version, String commit, String expectedVersion, String expectedCommit) {
        MockEnvironment environment = new MockEnvironment();
        if (version != null) {
            environment.setProperty("app.version", version);
        }
        if (commit != null) {
            environment.setProperty("app.commit", commit);
        }
        AppVersion build = AppVersion.from(environment);
        assertThat(build.version()).isEqualTo(expectedVersion);
        assertThat(build.commit()).isEqualTo(expectedCommit);
        assertThat(build.release("core-server")).isEqualTo("core-server@" + expectedVersion);
    }
}
