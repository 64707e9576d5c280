-- Payment service (schema payment): stored payment methods (gateway tokens only), payments, every gateway
-- attempt and every state change. Card numbers and CVCs are never stored: they go once to the gateway,
-- which returns a token.
CREATE SCHEMA IF NOT EXISTS payment;

CREATE TABLE payment.methods (
    id            uuid PRIMARY KEY,
    member_id     uuid NOT NULL,
    type          text NOT NULL CHECK (type IN ('CARD')),
    gateway_token text NOT NULL,
    brand         text NOT NULL,
    last4         text NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
    expiry_month  integer NOT NULL CHECK (expiry_month BETWEEN 1 AND 12),
    expiry_year   integer NOT NULL CHECK (expiry_year BETWEEN 2000 AND 2200),
    holder_name   text NOT NULL,
    nickname      text,
    is_default    boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz  -- soft delete: past payments keep their reference
);
CREATE INDEX methods_member ON payment.methods (member_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
-- Exactly one default among a member's live methods.
CREATE UNIQUE INDEX methods_one_default ON payment.methods (member_id) WHERE is_default AND deleted_at IS NULL;

CREATE TABLE payment.payments (
    id           uuid PRIMARY KEY,
    order_id     uuid NOT NULL,
    member_id    uuid NOT NULL,
    method_id    uuid NOT NULL REFERENCES payment.methods (id),
    amount       bigint NOT NULL CHECK (amount > 0),
    currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status       text NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'DECLINED', 'FAILED', 'REFUNDED')),
    decline_code text,
    gateway_ref  text,
    -- While PENDING: until when the request that created (or took over) the payment drives its charge. A
    -- payment still PENDING after that (its process died) is taken over and charged again with the same
    -- gateway idempotency key, so the gateway never charges twice.
    lease_until  timestamptz NOT NULL,
    approved_at  timestamptz,
    refunded_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payments_one_per_order UNIQUE (order_id)
);
CREATE INDEX payments_member ON payment.payments (member_id, created_at DESC);

-- Idempotency-Key of POST /payments/process-payment, per member. The key names the order it paid for.
CREATE TABLE payment.idempotency_keys (
    member_id    uuid NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    order_id     uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, key)
);

-- Every call to the gateway for a payment (charges and refunds, including retries).
CREATE TABLE payment.payment_attempts (
    id           bigserial PRIMARY KEY,
    payment_id   uuid NOT NULL REFERENCES payment.payments (id),
    kind         text NOT NULL CHECK (kind IN ('CHARGE', 'REFUND')),
    attempt      integer NOT NULL,
    gateway_key  text NOT NULL,  -- the gateway idempotency key, the same for every retry
    outcome      text NOT NULL CHECK (outcome IN ('APPROVED', 'DECLINED', 'FAILED', 'REFUNDED', 'TIMEOUT', 'UNAVAILABLE')),
    decline_code text,
    gateway_ref  text,
    duration_ms  integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_attempts_payment ON payment.payment_attempts (payment_id, id);

-- Every state change of a payment, in order.
CREATE TABLE payment.payment_events (
    id          bigserial PRIMARY KEY,
    payment_id  uuid NOT NULL REFERENCES payment.payments (id),
    from_status text,
    to_status   text NOT NULL,
    detail      text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_events_payment ON payment.payment_events (payment_id, id);
