package lab.infra.core.jvm;

import com.sun.management.GarbageCollectionNotificationInfo;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import javax.management.ListenerNotFoundException;
import javax.management.Notification;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * A log line for memory pressure, the symptom an operator searches for when the heap alert fires:
 * "heap still full after GC", with the collector, its cause and the heap after it. Metrics show the
 * trend (jvm_memory_used_bytes); this line says that collecting did not help.
 */
@Component
public class GcPressureLog implements NotificationListener {

    private static final Logger log = LoggerFactory.getLogger(GcPressureLog.class);
    private static final long MIB = 1024 * 1024;

    private final HeapAfterGc rule;
    private final Set<String> heapPools = ManagementFactory.getMemoryPoolMXBeans().stream()
        .filter(pool -> pool.getType() == MemoryType.HEAP).map(MemoryPoolMXBean::getName).collect(Collectors.toSet());
    private final List<NotificationEmitter> emitters = new ArrayList<>();
    private long lastWarned = -1;

    public GcPressureLog() {
        this(new HeapAfterGc(HeapAfterGc.DEFAULT_THRESHOLD, HeapAfterGc.DEFAULT_INTERVAL_MILLIS));
    }

    GcPressureLog(HeapAfterGc rule) {
        this.rule = rule;
    }

    @PostConstruct
    void listen() {
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (gc instanceof NotificationEmitter emitter) {
                emitter.addNotificationListener(this, null, null);
                emitters.add(emitter);
            }
        }
    }

    @PreDestroy
    void stop() {
        for (NotificationEmitter emitter : emitters) {
            try {
                emitter.removeNotificationListener(this);
            } catch (ListenerNotFoundException ignored) {
                // already gone: nothing to remove
            }
        }
        emitters.clear();
    }

    @Override
    public void handleNotification(Notification notification, Object handback) {
        if (!GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(notification.getType())) {
            return;
        }
        var info = GarbageCollectionNotificationInfo.from((CompositeData) notification.getUserData());
        Map<String, MemoryUsage> after = info.getGcInfo().getMemoryUsageAfterGc();
        long used = after.entrySet().stream().filter(e -> heapPools.contains(e.getKey()))
            .mapToLong(e -> e.getValue().getUsed()).sum();
        long max = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getMax();
        long now = System.currentTimeMillis();
        synchronized (this) {
            if (!rule.warn(used, max, now, lastWarned)) {
                return;
            }
            lastWarned = now;
        }
        log.atWarn().addKeyValue("gc", info.getGcName()).addKeyValue("cause", info.getGcCause())
            .addKeyValue("gc_duration_ms", info.getGcInfo().getDuration())
            .addKeyValue("heap_after_gc_mib", used / MIB).addKeyValue("heap_max_mib", max / MIB)
            .addKeyValue("heap_after_gc_ratio", Math.round((double) used / max * 1000) / 1000.0)
            .log("heap still full after GC");
    }
}
