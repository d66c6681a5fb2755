-- Retries of a tenant whose activation keeps failing, kept durably so a reconciler restart or a
-- new leader neither forgets the count (and retries a poison tenant forever) nor retries at once.
-- activation_attempts: rounds of slot attempts that failed since the tenant was last active or renewed;
-- next_attempt_at: the reconciler leaves the tenant alone until then (exponential backoff).
ALTER TABLE tenants ADD COLUMN activation_attempts integer NOT NULL DEFAULT 0 CHECK (activation_attempts >= 0);
ALTER TABLE tenants ADD COLUMN next_attempt_at timestamptz;
