-- Orders and payments of the sales bot: a paying customer is never kept only in memory.
-- Every status change is a conditional UPDATE ... WHERE status = <expected> (botpool/commerce/orders.py).
CREATE TABLE orders (
    order_id           text PRIMARY KEY CHECK (order_id ~ '^o_[a-z0-9]{12,40}$'),
    tenant_id          text NOT NULL UNIQUE CHECK (tenant_id ~ '^t_[a-z0-9]{6,40}$'),
    buyer_telegram_id  bigint NOT NULL CHECK (buyer_telegram_id > 0),
    tariff             text NOT NULL CHECK (tariff ~ '^[a-z0-9_]{1,32}$'),
    amount_kopecks     bigint NOT NULL CHECK (amount_kopecks > 0),
    currency           text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    period_days        integer NOT NULL CHECK (period_days > 0),
    company_name       text CHECK (length(company_name) BETWEEN 1 AND 128),
    timezone           text CHECK (length(timezone) BETWEEN 1 AND 64),
    language           text NOT NULL DEFAULT 'ru' CHECK (language IN ('ru', 'en')),
    bot_id             bigint CHECK (bot_id > 0),
    bot_username       text CHECK (length(bot_username) BETWEEN 1 AND 64),
    bot_source         text CHECK (bot_source IN ('managed', 'pasted')),
    status             text NOT NULL DEFAULT 'draft'
                       CHECK (status IN ('draft', 'awaiting_payment', 'paid', 'activating', 'active', 'failed',
                                         'canceled')),
    status_reason      text CHECK (length(status_reason) <= 500),
    payment_id         text UNIQUE,
    ready_notified_at  timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    paid_at            timestamptz,
    activated_at       timestamptz,
    closed_at          timestamptz
);

-- One open (unpaid) order per buyer: a second purchase while one is pending finds the pending one.
CREATE UNIQUE INDEX orders_one_open_per_buyer ON orders (buyer_telegram_id)
    WHERE status IN ('draft', 'awaiting_payment');
CREATE INDEX orders_by_status ON orders (status, updated_at);

-- What YooKassa said about each payment, as last re-fetched; statuses only move forward.
CREATE TABLE payments (
    payment_id          text PRIMARY KEY CHECK (length(payment_id) BETWEEN 1 AND 64),
    order_id            text NOT NULL UNIQUE REFERENCES orders (order_id),
    amount_kopecks      bigint NOT NULL CHECK (amount_kopecks > 0),
    currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status              text NOT NULL
                        CHECK (status IN ('pending', 'waiting_for_capture', 'succeeded', 'canceled')),
    cancellation_party  text,
    cancellation_reason text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    succeeded_at        timestamptz,
    canceled_at         timestamptz
);

-- Payments that did not add up (unknown order, wrong amount): recorded once each, for the operator.
CREATE TABLE payment_anomalies (
    anomaly_id  bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind ~ '^[a-z_]{1,40}$'),
    payment_id  text NOT NULL CHECK (length(payment_id) BETWEEN 1 AND 64),
    order_id    text,
    detail      text NOT NULL CHECK (length(detail) <= 1000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, payment_id)
);
