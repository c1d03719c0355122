package lab.infra.core.logging;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.pattern.ThrowableProxyConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import org.slf4j.event.KeyValuePair;
import org.springframework.boot.json.JsonWriter.Members;
import org.springframework.boot.logging.structured.JsonWriterStructuredLogFormatter;
import org.springframework.core.env.Environment;

import lab.infra.core.requestid.RequestIds;
import lab.infra.core.version.AppVersion;

/**
 * Logback formatter for the lab's shared log contract: one JSON object per line with
 * {@code ts}, {@code level}, {@code service}, {@code version} (APP_VERSION, see {@link AppVersion}),
 * {@code msg}, {@code request_id} (when known), then event fields (SLF4J key/value pairs and other
 * MDC entries), logger, thread and, for errors, the exception.
 *
 * <p>Selected with {@code logging.structured.format.console}; Spring Boot instantiates it
 * before the application context, so startup lines are JSON too.
 */
public class ContractJsonLogFormatter extends JsonWriterStructuredLogFormatter<ILoggingEvent> {

    static final String VERSION = "version";

    /** RFC 3339 UTC with exactly three fraction digits (ISO_INSTANT drops zero millis). */
    private static final DateTimeFormatter TS =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    // Event fields must not overwrite the contract fields (and JSON must not get duplicate keys).
    private static final Set<String> RESERVED = Set.of("ts", "level", "service", "msg", RequestIds.MDC_KEY,
            VERSION, "logger", "thread", "error", "stack_trace");

    public ContractJsonLogFormatter(Environment environment, ThrowableProxyConverter throwableProxyConverter) {
        super(members -> members(members, serviceName(environment), AppVersion.from(environment).version(),
                throwableProxyConverter), null);
    }

    private static String serviceName(Environment environment) {
        return environment.getProperty("spring.application.name", "core-server");
    }

    private static void members(Members<ILoggingEvent> members, String service, String version,
            ThrowableProxyConverter throwableProxyConverter) {
        members.add("ts", ILoggingEvent::getInstant).as(ContractJsonLogFormatter::timestamp);
        members.add("level", ILoggingEvent::getLevel).as(ContractJsonLogFormatter::level);
        members.add("service", service);
        // Before msg, like worker-server: greps such as '"msg":"chaos fault injected","kind":"cpu"' keep working.
        members.add(VERSION, version);
        members.add("msg", ILoggingEvent::getFormattedMessage);
        members.add(RequestIds.MDC_KEY, event -> event.getMDCPropertyMap().get(RequestIds.MDC_KEY)).whenNotNull();
        members.add().usingPairs(ContractJsonLogFormatter::eventFields);
        members.add("logger", ILoggingEvent::getLoggerName);
        members.add("thread", ILoggingEvent::getThreadName);
        members.add("error", ILoggingEvent::getThrowableProxy).whenNotNull().as(ContractJsonLogFormatter::error);
        members.add("stack_trace", event -> event)
            .whenNotNull(ILoggingEvent::getThrowableProxy)
            .as(throwableProxyConverter::convert);
    }

    private static void eventFields(ILoggingEvent event, BiConsumer<String, Object> pairs) {
        List<KeyValuePair> keyValuePairs = event.getKeyValuePairs();
        // A key may be both an event field and in the MDC (job_id): write it once, the event's value wins.
        // A duplicate name makes the JSON writer fail and the whole line would be lost.
        Set<String> written = new HashSet<>();
        if (keyValuePairs != null) {
            for (KeyValuePair pair : keyValuePairs) {
                if (!RESERVED.contains(pair.key) && written.add(pair.key)) {
                    pairs.accept(pair.key, pair.value);
                }
            }
        }
        for (Map.Entry<String, String> entry : event.getMDCPropertyMap().entrySet()) {
            if (!RESERVED.contains(entry.getKey()) && !written.contains(entry.getKey())) {
                pairs.accept(entry.getKey(), entry.getValue());
            }
        }
    }

    static String timestamp(Instant instant) {
        return TS.format(instant);
    }

    /** The contract knows debug|info|warn|error; TRACE is folded into debug. */
    static String level(Level level) {
        return switch (level.toInt()) {
            case Level.ERROR_INT -> "error";
            case Level.WARN_INT -> "warn";
            case Level.INFO_INT -> "info";
            default -> "debug";
        };
    }

    private static String error(IThrowableProxy throwable) {
        String message = throwable.getMessage();
        return (message != null) ? throwable.getClassName() + ": " + message : throwable.getClassName();
    }
}
