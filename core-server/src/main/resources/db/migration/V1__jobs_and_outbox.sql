-- Jobs accepted by POST /api/jobs. Status: PENDING -> DISPATCHED -> SUCCEEDED | FAILED
-- (a stale DISPATCHED job goes back to PENDING and is dispatched again).
CREATE TABLE jobs (
    id               uuid        PRIMARY KEY,
    type             text        NOT NULL,
    payload          jsonb       NOT NULL,
    status           text        NOT NULL CHECK (status IN ('PENDING', 'DISPATCHED', 'SUCCEEDED', 'FAILED')),
    idempotency_key  text        UNIQUE,
    request_hash     text,
    request_id       text,
    dispatch_count   integer     NOT NULL DEFAULT 0,
    result           jsonb,
    error            jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    dispatched_at    timestamptz,
    finished_at      timestamptz
);

-- Listing newest first, optionally by status, with a (created_at, id) keyset cursor.
CREATE INDEX jobs_created_idx ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_status_created_idx ON jobs (status, created_at DESC, id DESC);
-- Stale sweep: in-flight jobs by dispatch time.
CREATE INDEX jobs_dispatched_idx ON jobs (dispatched_at) WHERE status = 'DISPATCHED';

-- Transactional outbox: a row is written in the same transaction as the job (or by the stale sweep)
-- and deleted once the worker acknowledged the job (202/200) or the job is terminal.
CREATE TABLE outbox (
    job_id           uuid        PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at);
