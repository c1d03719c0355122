package lab.infra.core.lifecycle;

import sun.misc.Signal;

/**
 * Makes SIGTERM end the JVM with exit code 0 instead of the default 143.
 *
 * <p>The JVM's own SIGTERM handler runs the shutdown hooks and then exits with 128+15. The
 * service contract asks for exit 0 after a graceful stop, so we replace the handler with a
 * plain {@code System.exit(0)}: it runs the same shutdown hooks, including Spring's, which
 * performs the graceful shutdown (server.shutdown=graceful, bounded by
 * spring.lifecycle.timeout-per-shutdown-phase). SIGINT keeps its default behaviour.
 */
public final class TermSignalExit {

    private TermSignalExit() {
    }

    public static void install() {
        Signal.handle(new Signal("TERM"), signal -> System.exit(0));
    }
}
