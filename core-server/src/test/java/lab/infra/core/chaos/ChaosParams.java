package lab.infra.core.chaos;

import java.util.LinkedHashMap;
import java.util.Map;

/** Fault parameters for {@link ChaosService#inject} in tests that skip HTTP, in contract order. */
public final class ChaosParams {

    private ChaosParams() {
    }

    /** {@code duration_seconds} first, then name/value pairs: {@code params(60, "percent", 50)}. */
    public static Map<String, Integer> params(int durationSeconds, Object... pairs) {
        Map<String, Integer> params = new LinkedHashMap<>();
        params.put(ChaosKind.DURATION.name(), durationSeconds);
        for (int i = 0; i < pairs.length; i += 2) {
            params.put((String) pairs[i], (Integer) pairs[i + 1]);
        }
        return params;
    }
}
