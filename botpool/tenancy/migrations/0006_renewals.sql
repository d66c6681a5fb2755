-- Renewals: an order either buys a new tenant ('new') or extends an existing one ('renewal'). A tenant
-- is created by one purchase order only; any number of renewal orders may extend it afterwards.
ALTER TABLE orders ADD COLUMN kind text NOT NULL DEFAULT 'new' CHECK (kind IN ('new', 'renewal'));
ALTER TABLE orders DROP CONSTRAINT orders_tenant_id_key;
CREATE UNIQUE INDEX orders_one_purchase_per_tenant ON orders (tenant_id) WHERE kind = 'new';
CREATE INDEX orders_by_tenant ON orders (tenant_id);
-- What a renewal extended, written in the same transaction as the order's move to 'active', so a
-- payment notified twice (or two sales-bot replicas) extends the tenant once.
ALTER TABLE orders ADD COLUMN extended_to timestamptz;

-- Reminders to a tenant's owner before its paid period ends: an outbox keyed by the period it is about
-- (paid_until), so each is sent once per period, and a renewal starts a fresh series for the new one.
-- A sender claims a row (claimed_at), sends, then stamps sent_at; a failed send gives the claim back.
CREATE TABLE subscription_reminders (
    tenant_id     text NOT NULL CHECK (tenant_id ~ '^t_[a-z0-9]{6,40}$'),
    kind          text NOT NULL CHECK (kind IN ('3d', '1d')),
    paid_until    timestamptz NOT NULL,
    recipient     bigint NOT NULL CHECK (recipient > 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    claimed_at    timestamptz,
    sent_at       timestamptz,
    outcome       text CHECK (outcome IN ('sent', 'blocked', 'undeliverable')),
    PRIMARY KEY (tenant_id, kind, paid_until)
);
CREATE INDEX subscription_reminders_unsent ON subscription_reminders (created_at) WHERE sent_at IS NULL;
