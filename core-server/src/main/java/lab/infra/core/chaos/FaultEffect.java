package lab.infra.core.chaos;

import java.util.Map;

/** What a fault does while it is active; reverted exactly once, on expiry, DELETE or shutdown. */
interface FaultEffect {

    /** No background work: latency and errors act in the app port's request path instead. */
    FaultEffect NONE = new FaultEffect() {
        @Override
        public void revert() {
        }
    };

    /** Stops the effect and releases what it holds (threads, heap, files). Must not throw. */
    void revert();

    /** Progress reported as extra fields of the fault (e.g. {@code written_mib}); empty when none. */
    default Map<String, Object> state() {
        return Map.of();
    }
}
