-- The control plane's own schema: one row per tenant (a salon's bot).
-- Desired state for the reconciler: a tenant with status 'active' and paid_until
-- in the future must be served by exactly one slot.
CREATE TABLE tenants (
    tenant_id          text PRIMARY KEY CHECK (tenant_id ~ '^t_[a-z0-9]{6,40}$'),
    company_name       text NOT NULL CHECK (length(company_name) BETWEEN 1 AND 200),
    admin_telegram_id  bigint NOT NULL CHECK (admin_telegram_id > 0),
    bot_id             bigint NOT NULL,
    bot_username       text,
    timezone           text NOT NULL DEFAULT 'Europe/Moscow',
    language           text NOT NULL DEFAULT 'ru' CHECK (language IN ('ru', 'en')),
    paid_until         timestamptz NOT NULL,
    status             text NOT NULL DEFAULT 'activating'
                       CHECK (status IN ('activating', 'active', 'released', 'failed')),
    slot_index         integer,
    last_error         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    activated_at       timestamptz,
    released_at        timestamptz
);

CREATE UNIQUE INDEX tenants_bot_id_live ON tenants (bot_id) WHERE status <> 'released';
CREATE INDEX tenants_desired ON tenants (status, paid_until);
