package lab.infra.core.jvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HeapAfterGcTest {

    private final HeapAfterGc rule = new HeapAfterGc(0.8, 30_000);

    @ParameterizedTest(name = "{5}")
    @CsvSource({
        "81, 100, 1000, -1,    true,  over the threshold: the first warning",
        "80, 100, 1000, -1,    false, at the threshold: not over",
        "50, 100, 1000, -1,    false, a collection that freed the heap",
        "90, 100, 31000, 1000, true,  over again once the interval has passed",
        "90, 100, 20000, 1000, false, over again within the interval: one line, not a flood",
        "90, -1,  1000, -1,    false, no maximum: nothing to be full against",
    })
    void warnsOnceWhenCollectingDidNotHelp(long used, long max, long now, long lastWarned, boolean warns, String why) {
        assertThat(rule.warn(used, max, now, lastWarned)).as(why).isEqualTo(warns);
    }

    @ParameterizedTest
    @CsvSource({"-0.1, 0", "1.1, 0", "0.8, -1"})
    void refusesNonsense(double threshold, long interval) {
        assertThatThrownBy(() -> new HeapAfterGc(threshold, interval)).isInstanceOf(IllegalArgumentException.class);
    }
}
