package lab.infra.core.version;

import org.springframework.core.env.PropertyResolver;

/**
 * The running build: {@code APP_VERSION} (git short commit, {@code -dirty} for uncommitted changes)
 * and {@code APP_COMMIT} (full commit), baked into the image and read through the Environment as
 * {@code app.version} / {@code app.commit}. This is the one source for the {@code build_info}
 * metric, the health JSON, the Sentry release and the {@code version} of every log line.
 *
 * <p>Values are free text from the build and are kept as they are (the JSON and exposition
 * writers escape them); only an unset or blank value means a developer build.
 */
public record AppVersion(String version, String commit) {

    public static final String VERSION_PROPERTY = "app.version";
    public static final String COMMIT_PROPERTY = "app.commit";
    /** Version of a build without APP_VERSION (a developer's jar or IDE run). */
    public static final String DEV = "dev";
    /** Commit of a build without APP_COMMIT. */
    public static final String UNKNOWN = "unknown";

    public AppVersion {
        version = orDefault(version, DEV);
        commit = orDefault(commit, UNKNOWN);
    }

    /**
     * Reads the build from Spring's Environment. Also used by the log formatter, which Spring Boot
     * creates before the application context exists.
     */
    public static AppVersion from(PropertyResolver properties) {
        return new AppVersion(properties.getProperty(VERSION_PROPERTY), properties.getProperty(COMMIT_PROPERTY));
    }

    /** Sentry release of this build: {@code <service>@<version>}, {@code core-server@dev} for a developer build. */
    public String release(String service) {
        return service + "@" + version;
    }

    // A set-but-empty variable (APP_VERSION= in a compose file) wins over the properties default, so check here.
    private static String orDefault(String value, String fallback) {
        return (value == null || value.isBlank()) ? fallback : value;
    }
}
