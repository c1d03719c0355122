package lab.infra.core.lifecycle;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.UnaryOperator;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import lab.infra.core.version.AppVersion;

/**
 * Refuses to start without the settings that have no safe default (today only DB_PASSWORD), with
 * one contract-shaped JSON log line instead of a Spring placeholder stack trace.
 */
public final class RequiredSettings {

    private RequiredSettings() {
    }

    /** @return the error message, or null when everything required is set */
    static String missing(UnaryOperator<String> env, UnaryOperator<String> sysProps) {
        for (String name : new String[] {"DB_PASSWORD", "SPRING_DATASOURCE_PASSWORD"}) {
            if (env.apply(name) != null || sysProps.apply(name) != null) {
                return null;
            }
        }
        if (sysProps.apply("spring.datasource.password") != null) {
            return null;
        }
        return "DB_PASSWORD is not set: core-server needs the PostgreSQL password (DB_URL, DB_USER, DB_PASSWORD)";
    }

    /**
     * The log line of a refused start, in the contract's field order. There is no Environment yet, so the
     * version is APP_VERSION itself; Jackson escapes it (free text from the build).
     */
    static String refusalLine(String error, Instant now, String appVersion) {
        Map<String, String> line = new LinkedHashMap<>();
        line.put("ts", DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC).format(now));
        line.put("level", "error");
        line.put("service", "core-server");
        line.put("version", new AppVersion(appVersion, null).version());
        line.put("msg", "refusing to start");
        line.put("reason", error);
        try {
            return new ObjectMapper().writeValueAsString(line);
        } catch (JsonProcessingException ex) {
            throw new IllegalStateException(ex);
        }
    }

    public static void checkOrExit() {
        String error = missing(System::getenv, System::getProperty);
        if (error != null) {
            System.out.println(refusalLine(error, Instant.now(), System.getenv("APP_VERSION")));
            System.out.flush();
            System.exit(2);
        }
    }
}
