package lab.infra.core.lifecycle;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.function.UnaryOperator;

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

    public static void checkOrExit() {
        String error = missing(System::getenv, System::getProperty);
        if (error != null) {
            String ts = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC)
                .format(Instant.now());
            System.out.println("{\"ts\":\"" + ts + "\",\"level\":\"error\",\"service\":\"core-server\","
                    + "\"msg\":\"refusing to start\",\"reason\":\"" + error + "\"}");
            System.out.flush();
            System.exit(2);
        }
    }
}
