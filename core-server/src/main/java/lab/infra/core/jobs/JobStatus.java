package lab.infra.core.jobs;

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
}
