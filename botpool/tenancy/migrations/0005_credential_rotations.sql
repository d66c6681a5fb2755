-- One row per detected theft of a tenant's handoff (a slot refused a wrapping token someone used
-- first), keyed by the claim attempt the slot refused, so the rotation it causes happens once however
-- many activators, reconcilers and ticks see the refusal. Each step records when it was done:
-- the database and Redis passwords (any activator), a managed bot's new token (the sales bot, the
-- only holder of the manager's token) and the notice to a pasted token's owner (the sales bot).
CREATE TABLE credential_rotations (
    tenant_id               text NOT NULL CHECK (tenant_id ~ '^t_[a-z0-9]{6,40}$'),
    attempt                 text NOT NULL CHECK (length(attempt) BETWEEN 1 AND 64),
    reason                  text NOT NULL CHECK (length(reason) <= 500),
    bot_source              text CHECK (bot_source IN ('managed', 'pasted')),
    bot_id                  bigint,
    order_id                text,
    detected_at             timestamptz NOT NULL DEFAULT now(),
    credentials_rotated_at  timestamptz,
    token_rotated_at        timestamptz,
    owner_notified_at       timestamptz,
    PRIMARY KEY (tenant_id, attempt)
);

CREATE INDEX credential_rotations_pending ON credential_rotations (tenant_id)
    WHERE credentials_rotated_at IS NULL OR (bot_source = 'managed' AND token_rotated_at IS NULL);
