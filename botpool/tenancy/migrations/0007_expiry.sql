-- The end of a subscription: a grace period after paid_until in which the bot still runs but tells
-- clients that booking is paused (and the owner how to renew), then release with the data kept for a
-- retention period, then deletion of everything the tenant had. Both periods are per tenant (an
-- operator may give one salon longer); the defaults are the product's.
ALTER TABLE tenants ADD COLUMN grace_days integer NOT NULL DEFAULT 3 CHECK (grace_days BETWEEN 0 AND 60);
ALTER TABLE tenants ADD COLUMN retention_days integer NOT NULL DEFAULT 90 CHECK (retention_days BETWEEN 0 AND 3650);
ALTER TABLE tenants ADD COLUMN deleted_at timestamptz;
ALTER TABLE tenants DROP CONSTRAINT tenants_status_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_status_check
    CHECK (status IN ('activating', 'active', 'released', 'failed', 'deleted'));
DROP INDEX tenants_bot_id_live;
CREATE UNIQUE INDEX tenants_bot_id_live ON tenants (bot_id) WHERE status NOT IN ('released', 'deleted');

-- One row per deleted tenant: what was removed and when (the record a deletion must leave), and, for a
-- managed bot, when the sales bot replaced its token so the old one stopped working for anyone.
CREATE TABLE tenant_deletions (
    tenant_id                 text PRIMARY KEY CHECK (tenant_id ~ '^t_[a-z0-9]{6,40}$'),
    deleted_at                timestamptz NOT NULL DEFAULT now(),
    released_at               timestamptz,
    removed                   text[] NOT NULL,
    managed_token_revoked_at  timestamptz
);
