-- The order saga (issue 5): the orders schema, and what the product, payment and delivery services add to
-- their own schemas for it. Each service's objects stay in its schema; the order service calls the product
-- service's functions (product.take_stock / product.return_stock) inside its own transactions, so that an order
-- is durable if and only if its stock left the product ledger (docs/architecture.md, "The order flow").

------------------------------------------------------------------------------------------------------------------
-- product: the stock gate's epoch, and the order-side stock functions.
------------------------------------------------------------------------------------------------------------------

-- One row. The epoch names the current contents of the Redis stock gate: a rebuild (Redis came back empty)
-- sets a new epoch under this row's lock, and an order reserved under another epoch can no longer commit.
CREATE TABLE product.gate_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    epoch      text NOT NULL,
    rebuilt_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO product.gate_state (epoch) VALUES ('none');

CREATE INDEX stock_movements_order ON product.stock_movements (order_id) WHERE order_id IS NOT NULL;

-- Takes the stock of an order: one ORDER movement per line. p_lines = [{"productId": uuid, "quantity": n}, ...]
-- (distinct products). Fails with SQLSTATE OM001 when the gate epoch is not p_epoch (the reservation died with
-- the gate) and with 23514 (check_violation) when a product would go below zero.
CREATE FUNCTION product.take_stock(p_order uuid, p_epoch text, p_lines jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    current_epoch text;
    taken integer;
BEGIN
    SELECT epoch INTO current_epoch FROM product.gate_state FOR SHARE;
    IF current_epoch IS DISTINCT FROM p_epoch THEN
        RAISE EXCEPTION 'stock gate epoch is %, the reservation was made in %', current_epoch, p_epoch
            USING ERRCODE = 'OM001';
    END IF;
    WITH l AS (
        SELECT (x ->> 'productId')::uuid AS pid, (x ->> 'quantity')::bigint AS q
        FROM jsonb_array_elements(p_lines) AS x
    ), u AS (
        UPDATE product.products p
        SET stock = p.stock - l.q, version = p.version + 1, updated_at = now()
        FROM l WHERE p.id = l.pid
        RETURNING p.id AS pid, l.q AS q, p.stock AS s
    ), m AS (
        INSERT INTO product.stock_movements (product_id, delta, resulting_stock, reason, order_id)
        SELECT pid, -q, s, 'ORDER', p_order FROM u
        RETURNING 1
    )
    SELECT count(*) INTO taken FROM m;
    IF taken <> jsonb_array_length(p_lines) THEN
        RAISE EXCEPTION 'order % names a product that does not exist', p_order USING ERRCODE = 'OM003';
    END IF;
END
$$;

-- Gives back everything an order took and has not given back yet (ORDER_RELEASE movements); idempotent.
-- Returns the gate epoch (read under the share lock) so that the caller can return the units to that gate.
CREATE FUNCTION product.return_stock(p_order uuid) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    current_epoch text;
BEGIN
    SELECT epoch INTO current_epoch FROM product.gate_state FOR SHARE;
    WITH owed AS (
        SELECT product_id, -sum(delta) AS q FROM product.stock_movements
        WHERE order_id = p_order GROUP BY product_id HAVING sum(delta) < 0
    ), u AS (
        UPDATE product.products p
        SET stock = p.stock + o.q, version = p.version + 1, updated_at = now()
        FROM owed o WHERE p.id = o.product_id
        RETURNING p.id AS pid, o.q AS q, p.stock AS s
    )
    INSERT INTO product.stock_movements (product_id, delta, resulting_stock, reason, order_id)
    SELECT pid, q, s, 'ORDER_RELEASE', p_order FROM u;
    RETURN current_epoch;
END
$$;

------------------------------------------------------------------------------------------------------------------
-- payment: an outbox for the saga's payment events (relayed to om:events:payment).
------------------------------------------------------------------------------------------------------------------
CREATE TABLE payment.outbox (
    seq          bigserial NOT NULL,
    id           uuid PRIMARY KEY,
    event_type   text NOT NULL,
    aggregate_id text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz
);
CREATE INDEX outbox_unsent ON payment.outbox (seq) WHERE sent_at IS NULL;

------------------------------------------------------------------------------------------------------------------
-- delivery: a delivery not yet shipped can be CANCELLED (its order was cancelled).
------------------------------------------------------------------------------------------------------------------
ALTER TABLE delivery.deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE delivery.deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('READY', 'SHIPPED', 'IN_TRANSIT', 'OUT_FOR_DELIVERY', 'DELIVERED', 'FAILED', 'RETURNED', 'CANCELLED'));

------------------------------------------------------------------------------------------------------------------
-- orders
------------------------------------------------------------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS orders;

CREATE TABLE orders.orders (
    id                uuid PRIMARY KEY,  -- UUIDv7: ordering by id is ordering by creation
    buyer_id          uuid NOT NULL,
    idempotency_key   text NOT NULL,
    request_hash      text NOT NULL,
    status            text NOT NULL
                      CHECK (status IN ('PENDING', 'PAID', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED')),
    cancel_reason     text,
    items             jsonb NOT NULL,  -- [{productId, sellerId, name, unitPrice, quantity, lineTotal}]
    total_amount      bigint NOT NULL CHECK (total_amount >= 0),
    currency          text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    payment_method_id uuid NOT NULL,
    address_id        uuid NOT NULL,
    payment_id        uuid,
    payment_status    text,
    decline_code      text,
    delivery_id       uuid,
    delivery_status   text,
    history           jsonb NOT NULL,  -- [{status, at}], oldest first
    gate_epoch        text NOT NULL,   -- the stock gate epoch of the reservation
    gate_pending      boolean NOT NULL DEFAULT false,  -- stock returned in PostgreSQL, not yet to the Redis gate
    resumed           integer NOT NULL DEFAULT 0,      -- times the saga was restarted by the resumer
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_idempotency UNIQUE (buyer_id, idempotency_key),
    CONSTRAINT orders_cancel_reason CHECK ((status = 'CANCELLED') = (cancel_reason IS NOT NULL))
);
CREATE INDEX orders_buyer ON orders.orders (buyer_id, id DESC);
CREATE INDEX orders_unsettled ON orders.orders (updated_at) WHERE status IN ('PENDING', 'PAID');
CREATE INDEX orders_gate_pending ON orders.orders (updated_at) WHERE gate_pending;

-- The sellers of each order (GET /order/orders?role=seller, and who may read an order).
CREATE TABLE orders.order_sellers (
    seller_id uuid NOT NULL,
    order_id  uuid NOT NULL REFERENCES orders.orders (id),
    PRIMARY KEY (seller_id, order_id)
);

CREATE TABLE orders.outbox (
    seq          bigserial NOT NULL,
    id           uuid PRIMARY KEY,
    event_type   text NOT NULL,
    aggregate_id text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz
);
CREATE INDEX outbox_unsent ON orders.outbox (seq) WHERE sent_at IS NULL;

-- Group commit: writes a batch of orders in one transaction (one round trip). p_batch is an array of
-- {id, buyerId, key, hash, items, lines, total, currency, methodId, addressId, epoch, reservedAtMs, event, at}.
-- Per order: CREATED, or DUPLICATE with the order that already holds (buyerId, key). Raises when any order
-- fails (OM001 epoch, OM002 reservation too old, 23514 stock): the caller then writes the orders one by one.
CREATE FUNCTION orders.place_orders(p_batch jsonb, p_max_age_ms bigint)
RETURNS TABLE (order_id uuid, outcome text, existing_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
    o jsonb;
    new_id uuid;
BEGIN
    FOR o IN SELECT x FROM jsonb_array_elements(p_batch) AS x LOOP
        order_id := (o ->> 'id')::uuid;
        IF (extract(epoch FROM clock_timestamp()) * 1000)::bigint - (o ->> 'reservedAtMs')::bigint > p_max_age_ms THEN
            RAISE EXCEPTION 'the reservation of order % is older than % ms', order_id, p_max_age_ms
                USING ERRCODE = 'OM002';
        END IF;
        new_id := NULL;
        INSERT INTO orders.orders (id, buyer_id, idempotency_key, request_hash, status, items, total_amount, currency,
                                   payment_method_id, address_id, history, gate_epoch, created_at, updated_at)
        VALUES (order_id, (o ->> 'buyerId')::uuid, o ->> 'key', o ->> 'hash', 'PENDING', o -> 'items',
                (o ->> 'total')::bigint, o ->> 'currency', (o ->> 'methodId')::uuid, (o ->> 'addressId')::uuid,
                jsonb_build_array(jsonb_build_object('status', 'PENDING', 'at', o ->> 'at')), o ->> 'epoch',
                (o ->> 'at')::timestamptz, (o ->> 'at')::timestamptz)
        ON CONFLICT (buyer_id, idempotency_key) DO NOTHING
        RETURNING id INTO new_id;
        IF new_id IS NULL THEN
            SELECT id INTO existing_id FROM orders.orders
            WHERE buyer_id = (o ->> 'buyerId')::uuid AND idempotency_key = o ->> 'key';
            outcome := 'DUPLICATE';
            RETURN NEXT;
            CONTINUE;
        END IF;
        PERFORM product.take_stock(order_id, o ->> 'epoch', o -> 'lines');
        INSERT INTO orders.order_sellers (seller_id, order_id)
        SELECT DISTINCT (i ->> 'sellerId')::uuid, order_id FROM jsonb_array_elements(o -> 'items') AS i;
        INSERT INTO orders.outbox (id, event_type, aggregate_id, payload)
        VALUES ((o -> 'event' ->> 'eventId')::uuid, 'OrderPlaced', order_id::text, o -> 'event');
        outcome := 'CREATED';
        existing_id := NULL;
        RETURN NEXT;
    END LOOP;
END
$$;
