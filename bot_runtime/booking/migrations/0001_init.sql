-- The booking bot's tables, created unqualified inside the tenant's schema.
-- Every instant is timestamptz (UTC on the wire); local wall-clock rules
-- (working hours, breaks) are minutes of the day in the business time zone.
-- Requires the btree_gist extension, created once per database by the
-- provisioner as superuser (it resolves through search_path "tenant, public").

CREATE TABLE settings (
    id                    boolean PRIMARY KEY DEFAULT true CHECK (id),
    slot_step_min         integer NOT NULL DEFAULT 30 CHECK (slot_step_min BETWEEN 5 AND 240),
    buffer_before_min     integer NOT NULL DEFAULT 0 CHECK (buffer_before_min BETWEEN 0 AND 240),
    buffer_after_min      integer NOT NULL DEFAULT 0 CHECK (buffer_after_min BETWEEN 0 AND 240),
    horizon_days          integer NOT NULL DEFAULT 30 CHECK (horizon_days BETWEEN 1 AND 365),
    min_notice_min        integer NOT NULL DEFAULT 60 CHECK (min_notice_min BETWEEN 0 AND 20160),
    cancel_cutoff_min     integer NOT NULL DEFAULT 1440 CHECK (cancel_cutoff_min BETWEEN 0 AND 20160),
    hold_min              integer NOT NULL DEFAULT 10 CHECK (hold_min BETWEEN 1 AND 120),
    auto_confirm          boolean NOT NULL DEFAULT true,
    reminder_offsets_min  integer[] NOT NULL DEFAULT '{1440,120}',
    rating_after_min      integer NOT NULL DEFAULT 120 CHECK (rating_after_min BETWEEN 0 AND 10080),
    max_active_per_client integer NOT NULL DEFAULT 3 CHECK (max_active_per_client BETWEEN 1 AND 100),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
INSERT INTO settings DEFAULT VALUES;

CREATE TABLE admins (
    telegram_id bigint PRIMARY KEY,
    added_by    bigint NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE services (
    id           serial PRIMARY KEY,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    category     text CHECK (category IS NULL OR length(category) BETWEEN 1 AND 64),
    duration_min integer NOT NULL CHECK (duration_min BETWEEN 5 AND 720),
    price        numeric(12, 2) NOT NULL DEFAULT 0 CHECK (price >= 0),
    price_max    numeric(12, 2) CHECK (price_max IS NULL OR price_max >= price),
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE masters (
    id          serial PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    telegram_id bigint,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE master_services (
    master_id  integer NOT NULL REFERENCES masters (id) ON DELETE CASCADE,
    service_id integer NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    PRIMARY KEY (master_id, service_id)
);
CREATE INDEX master_services_service ON master_services (service_id);

-- Weekly hours: one opening interval per master and weekday (0 = Monday),
-- in minutes of the local day; 1440 means midnight at the end of the day.
CREATE TABLE working_hours (
    master_id  integer NOT NULL REFERENCES masters (id) ON DELETE CASCADE,
    weekday    smallint NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    opens_min  smallint NOT NULL CHECK (opens_min BETWEEN 0 AND 1439),
    closes_min smallint NOT NULL CHECK (closes_min BETWEEN 1 AND 1440),
    PRIMARY KEY (master_id, weekday),
    CHECK (closes_min > opens_min)
);

CREATE TABLE breaks (
    id        serial PRIMARY KEY,
    master_id integer NOT NULL REFERENCES masters (id) ON DELETE CASCADE,
    weekday   smallint NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    start_min smallint NOT NULL CHECK (start_min BETWEEN 0 AND 1439),
    end_min   smallint NOT NULL CHECK (end_min BETWEEN 1 AND 1440),
    CHECK (end_min > start_min)
);
CREATE INDEX breaks_master ON breaks (master_id, weekday);

-- Days off of one master and blocked slots/days (master_id NULL: everybody).
CREATE TABLE time_off (
    id         serial PRIMARY KEY,
    master_id  integer REFERENCES masters (id) ON DELETE CASCADE,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('day_off', 'block')),
    reason     text,
    created_by bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX time_off_ends ON time_off (ends_at);

CREATE TABLE clients (
    id          bigserial PRIMARY KEY,
    telegram_id bigint UNIQUE,
    name        text NOT NULL DEFAULT '',
    username    text,
    phone       text,
    notes       text NOT NULL DEFAULT '',
    language    text CHECK (language IN ('ru', 'en')),
    blocked_bot boolean NOT NULL DEFAULT false,
    blacklisted boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clients_phone ON clients (phone) WHERE phone IS NOT NULL;

-- Bookings and slot holds. busy_from/busy_to is the master's occupied range,
-- the visit plus the buffers in force when it was booked; the exclusion
-- constraint makes two active ranges of one master impossible, whatever the
-- concurrency. A hold is a row in status 'held' with an expiry: it takes part
-- in the constraint, and expired holds are deleted before a new hold and by
-- the worker, so a client who walks away never blocks a slot for long.
CREATE TABLE bookings (
    id              bigserial PRIMARY KEY,
    client_id       bigint REFERENCES clients (id),
    master_id       integer NOT NULL REFERENCES masters (id),
    service_ids     integer[] NOT NULL,
    title           text NOT NULL,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    busy_from       timestamptz NOT NULL,
    busy_to         timestamptz NOT NULL,
    status          text NOT NULL CHECK (status IN ('held', 'pending', 'confirmed', 'cancelled', 'no_show')),
    hold_expires_at timestamptz,
    held_by         bigint,
    price           numeric(12, 2) NOT NULL DEFAULT 0,
    price_max       numeric(12, 2),
    source          text NOT NULL DEFAULT 'client' CHECK (source IN ('client', 'admin')),
    rating          smallint CHECK (rating BETWEEN 1 AND 5),
    cancelled_by    text CHECK (cancelled_by IN ('client', 'admin', 'block')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at),
    CHECK (busy_from <= starts_at AND busy_to >= ends_at),
    CHECK (status <> 'held' OR hold_expires_at IS NOT NULL),
    CHECK (status = 'held' OR client_id IS NOT NULL),
    CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
        master_id WITH =, tstzrange(busy_from, busy_to) WITH &&
    ) WHERE (status IN ('held', 'pending', 'confirmed'))
);
CREATE INDEX bookings_starts ON bookings (starts_at);
CREATE INDEX bookings_client ON bookings (client_id, starts_at);
CREATE INDEX bookings_holds ON bookings (hold_expires_at) WHERE status = 'held';
CREATE INDEX bookings_created ON bookings (created_at);

-- Reminders (and the rating request after a visit), planned when a booking
-- is confirmed and re-planned when it moves (unsent rows are replaced, sent
-- ones stay as history); the worker claims due rows with FOR UPDATE SKIP
-- LOCKED and marks them in the transaction that sends them.
CREATE TABLE reminders (
    id         bigserial PRIMARY KEY,
    booking_id bigint NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('before', 'rating')),
    offset_min integer NOT NULL DEFAULT 0,
    due_at     timestamptz NOT NULL,
    sent_at    timestamptz,
    outcome    text CHECK (outcome IN ('sent', 'skipped', 'failed')),
    UNIQUE (booking_id, kind, due_at)
);
CREATE INDEX reminders_due ON reminders (due_at) WHERE sent_at IS NULL;

-- Durable outgoing messages: owner alerts, notices to clients whose booking
-- was cancelled by a block, broadcasts. Written in the transaction that
-- causes them, delivered at once when possible and otherwise by the worker.
CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    chat_id    bigint NOT NULL,
    text       text NOT NULL,
    markup     jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    outcome    text CHECK (outcome IN ('sent', 'failed'))
);
CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL;
