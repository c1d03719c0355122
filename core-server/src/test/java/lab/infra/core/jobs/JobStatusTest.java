package lab.infra.core.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Locale;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The status filter of GET /api/jobs is case-insensitive in ASCII only, whatever the JVM's default locale. */
class JobStatusTest {

    private Locale saved;

    @BeforeEach
    void turkishDefaultLocale() {
        saved = Locale.getDefault();
        // Its upper case of 'i' is the dotted capital 'İ' (U+0130): "pending" -> "PENDİNG".
        Locale.setDefault(Locale.forLanguageTag("tr-TR"));
    }

    @AfterEach
    void restoreLocale() {
        Locale.setDefault(saved);
    }

    @Test
    void lowerCaseStatusesParseUnderATurkishDefaultLocale() {
        assertThat(JobStatus.parseIgnoreCase("pending")).isEqualTo(JobStatus.PENDING);
        assertThat(JobStatus.parseIgnoreCase("dispatched")).isEqualTo(JobStatus.DISPATCHED);
        assertThat(JobStatus.parseIgnoreCase("Succeeded")).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(JobStatus.parseIgnoreCase("fAiLeD")).isEqualTo(JobStatus.FAILED);
        assertThat(JobStatus.parseIgnoreCase("FAILED")).isEqualTo(JobStatus.FAILED);
    }

    @Test
    void nonAsciiLookAlikesAreNotStatuses() {
        // Upper-casing maps dotless 'ı' to 'I' and long 's' to 'S' in every locale; the documented
        // pattern (JobController.STATUS_PATTERN) accepts ASCII letters only, and so does the parser.
        assertThat(JobStatus.parseIgnoreCase("d\u0131spatched")).isNull();
        assertThat(JobStatus.parseIgnoreCase("\u017Fucceeded")).isNull();
        assertThat(JobStatus.parseIgnoreCase("PEND\u0130NG")).isNull();
        assertThat(JobStatus.parseIgnoreCase("done")).isNull();
        assertThat(JobStatus.parseIgnoreCase("")).isNull();
    }
}
