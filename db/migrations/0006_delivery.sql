-- Delivery service (schema delivery): members' addresses, deliveries with their status history, and the
-- transactional outbox of delivery events (relayed to the Redis stream om:events:delivery).
CREATE SCHEMA IF NOT EXISTS delivery;

CREATE TABLE delivery.addresses (
    id             uuid PRIMARY KEY,
    member_id      uuid NOT NULL,
    recipient_name text NOT NULL,
    phone          text NOT NULL,
    postal_code    text NOT NULL,
    address1       text NOT NULL,
    address2       text,
    label          text,
    is_default     boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz,  -- soft delete: past deliveries keep their own snapshot anyway
    CONSTRAINT addresses_deleted_not_default CHECK (deleted_at IS NULL OR NOT is_default)
);
-- At most one default per member (the service keeps exactly one while the member has addresses).
CREATE UNIQUE INDEX addresses_one_default ON delivery.addresses (member_id) WHERE is_default;
CREATE INDEX addresses_member ON delivery.addresses (member_id, created_at) WHERE deleted_at IS NULL;
-- Idempotency-Key of POST /delivery/addresses (scoped to the member), with a digest of the request's meaning.
CREATE TABLE delivery.address_keys (
    member_id    uuid NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    address_id   uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, key)
);

CREATE TABLE delivery.deliveries (
    id              uuid PRIMARY KEY,
    order_id        uuid NOT NULL,
    buyer_id        uuid NOT NULL,
    seller_ids      uuid[] NOT NULL DEFAULT '{}',  -- who may advance it (from the order; see docs/architecture.md)
    address_id      uuid NOT NULL,
    address         jsonb NOT NULL,  -- snapshot of the address at creation; later edits do not change it
    status          text NOT NULL DEFAULT 'READY'
                    CHECK (status IN ('READY', 'SHIPPED', 'IN_TRANSIT', 'OUT_FOR_DELIVERY', 'DELIVERED', 'FAILED', 'RETURNED')),
    carrier         text,
    tracking_number text,
    status_at       timestamptz NOT NULL DEFAULT now(),  -- when the current status happened (orders carrier events)
    version         integer NOT NULL DEFAULT 1,           -- +1 per applied change; in every event's payload
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT deliveries_order_key UNIQUE (order_id),
    CONSTRAINT deliveries_shipped_has_tracking CHECK (status NOT IN ('SHIPPED', 'IN_TRANSIT', 'OUT_FOR_DELIVERY', 'DELIVERED')
                                                     OR (carrier IS NOT NULL AND tracking_number IS NOT NULL))
);
CREATE INDEX deliveries_buyer ON delivery.deliveries (buyer_id, id DESC);
CREATE INDEX deliveries_sellers ON delivery.deliveries USING gin (seller_ids);
-- The courier simulator's work list.
CREATE INDEX deliveries_moving ON delivery.deliveries (status_at) WHERE status IN ('SHIPPED', 'IN_TRANSIT', 'OUT_FOR_DELIVERY');

-- Every status report, applied or not (a carrier event older than the current status is kept here only).
CREATE TABLE delivery.history (
    id               bigserial PRIMARY KEY,
    delivery_id      uuid NOT NULL REFERENCES delivery.deliveries (id),
    status           text NOT NULL,
    at               timestamptz NOT NULL,
    location         text,
    note             text,
    source           text NOT NULL CHECK (source IN ('SYSTEM', 'SELLER', 'CARRIER', 'SIMULATOR')),
    applied          boolean NOT NULL,
    carrier_event_id text,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX history_delivery ON delivery.history (delivery_id, at, id);
-- A carrier event is applied once, however often the carrier retries it.
CREATE UNIQUE INDEX history_carrier_event ON delivery.history (carrier_event_id) WHERE carrier_event_id IS NOT NULL;

-- Transactional outbox (backend/events/outbox_relay.hpp): written in the transaction of the change.
CREATE TABLE delivery.outbox (
    seq          bigserial NOT NULL,
    id           uuid PRIMARY KEY,
    event_type   text NOT NULL,
    aggregate_id text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz
);
CREATE INDEX outbox_unsent ON delivery.outbox (seq) WHERE sent_at IS NULL;
