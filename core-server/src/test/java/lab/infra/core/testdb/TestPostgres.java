package lab.infra.core.testdb;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Starts one throwaway PostgreSQL cluster per test JVM with {@code scripts/test-postgres.sh}
 * before any test runs, exposes it to Spring as the DB_URL/DB_USER/DB_PASSWORD system properties,
 * and stops it when the JUnit launcher session closes (plus a shutdown hook as a safety net).
 * Registered in META-INF/services, so {@code mvn test} needs no manual step.
 *
 * <p>Set {@code TEST_DB_URL}, {@code TEST_DB_USER}, {@code TEST_DB_PASSWORD} to use an existing
 * database instead (it must be disposable: tests truncate the jobs tables).
 */
public class TestPostgres implements LauncherSessionListener {

    private static String pgDir;

    @Override
    public void launcherSessionOpened(LauncherSession session) {
        start();
    }

    @Override
    public void launcherSessionClosed(LauncherSession session) {
        stop();
    }

    static synchronized void start() {
        if (System.getProperty("DB_URL") != null) {
            return;
        }
        // Background dispatch is off unless a test turns it on (cached contexts share the database).
        System.setProperty("JOBS_DISPATCH_ENABLED", "false");
        // Cached contexts outlive the cluster (it stops when the launcher session closes, before Spring's
        // shutdown hook); a slow maintenance tick keeps them from touching the database after their tests.
        System.setProperty("JOBS_SWEEP_INTERVAL", "1h");
        if (System.getenv("TEST_DB_URL") != null) {
            System.setProperty("DB_URL", System.getenv("TEST_DB_URL"));
            System.setProperty("DB_USER", System.getenv().getOrDefault("TEST_DB_USER", "core"));
            System.setProperty("DB_PASSWORD", System.getenv().getOrDefault("TEST_DB_PASSWORD", ""));
            return;
        }
        Map<String, String> values = run("start");
        pgDir = values.get("PGDIR");
        Runtime.getRuntime().addShutdownHook(new Thread(TestPostgres::stop, "test-postgres-stop"));
        for (String key : new String[] {"DB_URL", "DB_USER", "DB_PASSWORD"}) {
            String value = values.get(key);
            if (value == null) {
                throw new IllegalStateException("test-postgres.sh start did not print " + key + ": " + values);
            }
            System.setProperty(key, value);
        }
    }

    static synchronized void stop() {
        if (pgDir != null) {
            String dir = pgDir;
            pgDir = null;
            run("stop", dir);
        }
    }

    private static Map<String, String> run(String... args) {
        Path script = Path.of("scripts", "test-postgres.sh").toAbsolutePath();
        String[] command = new String[args.length + 1];
        command[0] = script.toString();
        System.arraycopy(args, 0, command, 1, args.length);
        try {
            Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                throw new IllegalStateException(script + " " + args[0] + " failed (exit "
                        + (process.isAlive() ? "timeout" : process.exitValue()) + "); is PostgreSQL installed? "
                        + "(Debian: apt-get install -y postgresql)");
            }
            Map<String, String> values = new LinkedHashMap<>();
            for (String line : out.split("\n")) {
                int eq = line.indexOf('=');
                if (eq > 0) {
                    values.put(line.substring(0, eq).trim(), line.substring(eq + 1).trim());
                }
            }
            return values;
        } catch (IOException ex) {
            throw new IllegalStateException("cannot run " + script, ex);
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + script, ex);
        }
    }
}
