package lab.infra.core.chaos;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The five fault kinds of the chaos contract (docs/contracts/chaos.md) and the parameters each
 * accepts, with ranges and defaults. {@code duration_seconds} is common to all kinds.
 */
public enum ChaosKind {

    CPU("cpu", List.of(
            new Param("workers", 1, 4, 1),
            new Param("load_percent", 1, 100, 100))),
    MEMORY("memory", List.of(
            new Param("rate_mib_per_second", 1, 64, 8),
            new Param("max_mib", 1, 2048, 256))),
    LATENCY("latency", List.of(
            new Param("delay_ms", 1, 30_000, 500),
            new Param("jitter_ms", 0, 10_000, 0),
            new Param("percent", 1, 100, 100))),
    ERRORS("errors", List.of(
            new Param("percent", 1, 100, 100),
            new Param("status", 500, 599, 500))),
    DISK("disk", List.of(
            new Param("size_mib", 1, 10_240, 100)));

    /** Required in every body; the cap keeps a forgotten fault from outliving a drill. */
    public static final Param DURATION = new Param("duration_seconds", 1, 600, null);

    private final String id;
    private final List<Param> params;

    ChaosKind(String id, List<Param> params) {
        this.id = id;
        this.params = params;
    }

    /** The name used in URLs, JSON and the {@code kind} metric tag. */
    public String id() {
        return id;
    }

    /** Kind-specific parameters, in the order they are reported. */
    public List<Param> params() {
        return params;
    }

    public static Optional<ChaosKind> fromId(String id) {
        return Arrays.stream(values()).filter(kind -> kind.id.equals(id)).findFirst();
    }

    public static List<String> ids() {
        return Arrays.stream(values()).map(ChaosKind::id).toList();
    }

    /** An integer parameter with an inclusive range; {@code defaultValue == null} means required. */
    public record Param(String name, int min, int max, Integer defaultValue) {
    }
}
