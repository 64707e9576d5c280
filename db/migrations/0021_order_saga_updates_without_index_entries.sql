-- Issue 6: the saga's updates of an order row become HOT updates (no new index entries).
--
-- Each order's row is updated by the saga (PENDING -> PAID -> CONFIRMED, mostly in one batched statement: ~1 update
-- an order at 1,200 orders/s), and none of these updates was HOT: orders_unsettled indexed updated_at under a predicate on status, orders_gate_pending indexed
-- updated_at, and both change with every update. So each update wrote a new entry into every index of the table
-- (primary key, idempotency key, buyer, and orders_unsettled while the order is unsettled) and left dead entries for
-- vacuum (docs/performance.md, thirteenth session).
--
-- What the two indexes served, without them:
-- * The resumer's question "which orders are still PENDING or PAID and quiet for resume-after?" is answered by a
--   scan of the primary key (UUIDv7: ordered by creation) from a mark that only moves forward: every order below
--   the mark (orders.unsettled_scan.below) that was still unsettled when the mark passed it is listed in
--   orders.unsettled, a table that normally holds nothing, since an order settles within a second and the mark
--   stays resume-after behind the clock. orders.sweep_unsettled moves the mark, lists, forgets the settled and
--   names the quiet ones. It takes an advisory lock that every orders.place_orders takes shared, so no order
--   commits below the mark while the mark passes it; an order placed below the mark (a clock behind the
--   database's) is listed by orders.place_orders itself.
-- * Orders whose stock is owed to the Redis gate: orders_gate_pending indexes id (not updated_at) under
--   gate_pending, which changes only on a cancellation.
-- * A fillfactor leaves room on each page for the new versions of its rows (a HOT update must stay on its page):
--   the saga updates a batch's orders, inserted together on the same few pages, in one transaction, so a page
--   needs room for a new version of each of its rows at once. HOT share of the updates at 1,200 orders/s:
--   fillfactor 70: 46 %, 60: 62 %, 50: 90 %.

-- The smallest UUIDv7 of a millisecond: every id made at or after p_at is >= it.
CREATE FUNCTION orders.uuid_floor(p_at timestamptz) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (lpad(to_hex(floor(extract(epoch FROM p_at) * 1000)::bigint), 12, '0') || repeat('0', 20))::uuid
$$;

CREATE TABLE orders.unsettled_scan (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    below     uuid NOT NULL,  -- every order with a smaller id was looked at by the sweep or listed at placing
    moved_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders.unsettled (
    order_id uuid PRIMARY KEY  -- an order passed by the mark (or placed below it) that may still be unsettled
);

-- The orders that exist now: all looked at, the unsettled ones listed (through the old index, before it goes).
INSERT INTO orders.unsettled (order_id) SELECT id FROM orders.orders WHERE status IN ('PENDING', 'PAID');
INSERT INTO orders.unsettled_scan (below)
SELECT greatest(coalesce((SELECT id FROM orders.orders ORDER BY id DESC LIMIT 1),
                         '00000000-0000-0000-0000-000000000000'::uuid),
                orders.uuid_floor(now()));

-- The resumer's sweep (the maintenance loop, every 500 ms, in every server process; one at a time): moves the
-- mark up to the orders created p_quiet_ms ago (at most p_scan_limit orders a call), lists those of them still
-- PENDING or PAID, forgets listed orders that settled since, and returns the listed orders unchanged for
-- p_quiet_ms, oldest change first (at most p_limit).
CREATE FUNCTION orders.sweep_unsettled(p_quiet_ms bigint, p_scan_limit integer, p_limit integer)
RETURNS SETOF uuid
LANGUAGE plpgsql AS $$
DECLARE
    quiet_since timestamptz := clock_timestamp() - p_quiet_ms * interval '1 millisecond';
    scan_to uuid := orders.uuid_floor(quiet_since);
    scan_from uuid;
    next_id uuid;
BEGIN
    -- Waits for the batches being placed (each holds it shared), so that the scan below sees all of them.
    PERFORM pg_advisory_xact_lock(hashtextextended('orders.unsettled_scan', 0));
    SELECT below INTO scan_from FROM orders.unsettled_scan;
    IF scan_from < scan_to THEN
        -- p_scan_limit orders are looked at; the one after them, if any, is where the next call starts.
        WITH s AS (
            SELECT o.id, o.status, row_number() OVER (ORDER BY o.id) AS n FROM (
                SELECT o.id, o.status FROM orders.orders o
                WHERE o.id >= scan_from AND o.id < scan_to ORDER BY o.id LIMIT p_scan_limit + 1) AS o
        ), listed AS (
            INSERT INTO orders.unsettled (order_id)
            SELECT s.id FROM s WHERE s.n <= p_scan_limit AND s.status IN ('PENDING', 'PAID')
            ON CONFLICT DO NOTHING
        )
        SELECT s.id INTO next_id FROM s WHERE s.n > p_scan_limit;
        UPDATE orders.unsettled_scan SET below = coalesce(next_id, scan_to), moved_at = now();
    END IF;
    DELETE FROM orders.unsettled u USING orders.orders o
    WHERE o.id = u.order_id AND o.status NOT IN ('PENDING', 'PAID');
    RETURN QUERY
    SELECT u.order_id FROM orders.unsettled u JOIN orders.orders o ON o.id = u.order_id
    WHERE o.status IN ('PENDING', 'PAID') AND o.updated_at < quiet_since
    ORDER BY o.updated_at LIMIT p_limit;
END
$$;

DROP INDEX orders.orders_unsettled;
DROP INDEX orders.orders_gate_pending;
CREATE INDEX orders_gate_pending ON orders.orders (id) WHERE gate_pending;
ALTER TABLE orders.orders SET (fillfactor = 50);

-- migration 0019's body, with the shared lock and the listing of orders placed below the mark.
CREATE OR REPLACE FUNCTION orders.place_orders(p_batch jsonb, p_max_age_ms bigint)
RETURNS TABLE (order_id uuid, outcome text, existing_id uuid)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    stale uuid;
    created uuid[];
    lines jsonb;
    bad_method uuid[];
    bad_address uuid[];
    ids uuid[];
    buyers uuid[];
    methods uuid[];
    addresses uuid[];
    changed uuid[];
    line_orders uuid[];
    line_products uuid[];
    line_versions integer[];
BEGIN
    -- Shared with every other batch; the sweep (orders.sweep_unsettled) takes it alone, so that no batch commits
    -- an order below the scan's mark while the sweep moves the mark past it.
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('orders.unsettled_scan', 0));
    SELECT (x ->> 'id')::uuid INTO stale FROM jsonb_array_elements(p_batch) AS x
    WHERE (extract(epoch FROM clock_timestamp()) * 1000)::bigint - (x ->> 'reservedAtMs')::bigint > p_max_age_ms
    LIMIT 1;
    IF stale IS NOT NULL THEN
        RAISE EXCEPTION 'the reservation of order % is older than % ms', stale, p_max_age_ms USING ERRCODE = 'OM002';
    END IF;

    -- The buyer's payment method and address, checked here (in the transaction that writes the order) through
    -- the payment and delivery services' own functions, once for the whole batch.
    SELECT array_agg((o ->> 'id')::uuid ORDER BY n), array_agg((o ->> 'buyerId')::uuid ORDER BY n),
           array_agg((o ->> 'methodId')::uuid ORDER BY n), array_agg((o ->> 'addressId')::uuid ORDER BY n)
    INTO ids, buyers, methods, addresses
    FROM jsonb_array_elements(p_batch) WITH ORDINALITY AS b (o, n);
    SELECT coalesce(array_agg(ids[u.n]) FILTER (WHERE NOT u.usable), '{}') INTO bad_method
    FROM payment.methods_usable(buyers, methods) AS u;
    SELECT coalesce(array_agg(ids[u.n]) FILTER (WHERE NOT u.usable), '{}') INTO bad_address
    FROM delivery.addresses_usable(buyers, addresses) AS u;

    -- The product rows each order was priced from, still current? (The product service's function.)
    SELECT array_agg((o ->> 'id')::uuid ORDER BY n, k), array_agg((l ->> 'productId')::uuid ORDER BY n, k),
           array_agg((l ->> 'version')::integer ORDER BY n, k)
    INTO line_orders, line_products, line_versions
    FROM jsonb_array_elements(p_batch) WITH ORDINALITY AS b (o, n),
         jsonb_array_elements(o -> 'lines') WITH ORDINALITY AS ls (l, k);
    SELECT coalesce(array_agg(DISTINCT line_orders[c.n]), '{}') INTO changed
    FROM product.changed_lines(line_products, line_versions) AS c;

    WITH b AS (
        SELECT o, n FROM jsonb_array_elements(p_batch) WITH ORDINALITY AS b (o, n)
        WHERE NOT ((o ->> 'id')::uuid = ANY (bad_method) OR (o ->> 'id')::uuid = ANY (bad_address)
                   OR (o ->> 'id')::uuid = ANY (changed))
    ), ins AS (
        INSERT INTO orders.orders (id, buyer_id, idempotency_key, request_hash, status, items, total_amount, currency,
                                   payment_method_id, address_id, history, gate_epoch, created_at, updated_at)
        SELECT (o ->> 'id')::uuid, (o ->> 'buyerId')::uuid, o ->> 'key', o ->> 'hash', 'PENDING', o -> 'items',
               (o ->> 'total')::bigint, o ->> 'currency', (o ->> 'methodId')::uuid, (o ->> 'addressId')::uuid,
               jsonb_build_array(jsonb_build_object('status', 'PENDING', 'at', o ->> 'at')), o ->> 'epoch',
               (o ->> 'at')::timestamptz, (o ->> 'at')::timestamptz
        FROM b ORDER BY n
        ON CONFLICT (buyer_id, idempotency_key) DO NOTHING
        RETURNING id
    ), sellers AS (
        INSERT INTO orders.order_sellers (seller_id, order_id)
        SELECT s::uuid, ins.id
        FROM ins JOIN b ON (b.o ->> 'id')::uuid = ins.id, jsonb_array_elements_text(b.o -> 'sellers') AS s
    ), placed AS (
        INSERT INTO orders.outbox (id, event_type, aggregate_id, payload)
        SELECT (b.o -> 'event' ->> 'eventId')::uuid, 'OrderPlaced', b.o ->> 'id', b.o -> 'event'
        FROM ins JOIN b ON (b.o ->> 'id')::uuid = ins.id
        ORDER BY b.n
    )
    SELECT coalesce(array_agg(id), '{}') INTO created FROM ins;

    -- An order whose id is below the scan's mark (its id's clock is behind the database's, or its request waited
    -- long) would never be scanned: it is recorded at once. Normally none is.
    INSERT INTO orders.unsettled (order_id)
    SELECT c FROM unnest(created) AS c WHERE c < (SELECT below FROM orders.unsettled_scan);

    IF cardinality(created) > 0 THEN
        SELECT jsonb_agg(jsonb_build_object('orderId', o ->> 'id', 'productId', l ->> 'productId',
                                            'quantity', l -> 'quantity', 'epoch', o ->> 'epoch') ORDER BY b.n, k)
        INTO lines
        FROM jsonb_array_elements(p_batch) WITH ORDINALITY AS b (o, n),
             jsonb_array_elements(o -> 'lines') WITH ORDINALITY AS ls (l, k)
        WHERE (o ->> 'id')::uuid = ANY (created);
        PERFORM product.take_stock_many(lines);
    END IF;

    RETURN QUERY
    SELECT (o ->> 'id')::uuid,
           CASE WHEN (o ->> 'id')::uuid = ANY (created) THEN 'CREATED'
                WHEN (o ->> 'id')::uuid = ANY (bad_method) AND (o ->> 'id')::uuid = ANY (bad_address)
                    THEN 'INVALID:method,address'
                WHEN (o ->> 'id')::uuid = ANY (bad_method) THEN 'INVALID:method'
                WHEN (o ->> 'id')::uuid = ANY (bad_address) THEN 'INVALID:address'
                WHEN (o ->> 'id')::uuid = ANY (changed) THEN 'CHANGED'
                ELSE 'DUPLICATE' END,
           CASE WHEN (o ->> 'id')::uuid = ANY (created) OR (o ->> 'id')::uuid = ANY (bad_method)
                     OR (o ->> 'id')::uuid = ANY (bad_address) OR (o ->> 'id')::uuid = ANY (changed) THEN NULL::uuid
                ELSE (SELECT e.id FROM orders.orders e
                      WHERE e.buyer_id = (o ->> 'buyerId')::uuid AND e.idempotency_key = o ->> 'key') END
    FROM jsonb_array_elements(p_batch) WITH ORDINALITY AS b (o, n)
    ORDER BY n;
END
$$;
