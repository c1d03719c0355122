-- How many times a worker took the job (answered 202/200, PENDING -> DISPATCHED). The stale sweep gives up
-- on a job after jobs.dispatch.max-dispatches of these without a result (error kind dispatch_exhausted).
-- dispatch_count cannot bound that: it counts every dispatch attempt, including refused connections and
-- 429/503 while the worker is down or busy, which must never make a job fail.
ALTER TABLE jobs ADD COLUMN deliveries integer NOT NULL DEFAULT 0;
-- Jobs from before this column: a dispatched job was taken at least once (the exact number is unknown).
UPDATE jobs SET deliveries = 1 WHERE dispatched_at IS NOT NULL;
