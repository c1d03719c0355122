package lab.infra.core.jobs;

import java.util.Locale;

/** PENDING -> DISPATCHED -> SUCCEEDED | FAILED; a stale DISPATCHED job goes back to PENDING. */
public enum JobStatus {
    PENDING, DISPATCHED, SUCCEEDED, FAILED;

    boolean terminal() {
        return this == SUCCEEDED || this == FAILED;
    }

    static JobStatus parse(String value) {
        for (JobStatus status : values()) {
            if (status.name().equals(value)) {
                return status;
            }
        }
        return null;
    }

    /**
     * Case-insensitive in ASCII letters only, whatever the default locale: a Turkish default
     * would upper-case "pending" to "PENDİNG" (dotted capital I), and even Locale.ROOT maps
     * non-ASCII letters such as dotless 'ı' and long 's' ('ſ') onto 'I' and 'S', which the
     * documented pattern ({@code JobController.STATUS_PATTERN}) does not allow.
     */
    static JobStatus parseIgnoreCase(String value) {
        for (int i = 0; i < value.length(); i++) {
            if (value.charAt(i) > 0x7F) {
                return null;
            }
        }
        return parse(value.toUpperCase(Locale.ROOT));
    }
}
