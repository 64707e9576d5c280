-- Issue 6: the saga's updates of an order row become HOT updates (no new index entries).
--
-- Each order's row is updated by the saga (PENDING -> PAID -> CONFIRMED, mostly in one batched statement: ~1 update
-- an order at 1,200 orders/s), and none of these updates was HOT: orders_unsettled indexed updated_at under a
-- predicate on status, orders_gate_pending indexed updated_at, and both change with every update. So each update
-- wrote a new entry into every index of the table (primary key, idempotency key, buyer, and orders_unsettled while
-- the order is unsettled) and left dead entries for vacuum (docs/performance.md, thirteenth session).
--
-- What the two indexes served, without them:
-- * The resumer's question "which orders are still PENDING or PAID and quiet for resume-after?" is answered by a
--   scan of the primary key (UUIDv7: ordered by creation) behind a mark that only moves forward, without locks
--   on the order path. orders.place_orders lists in orders.unsettled every order it writes with an id below the
--   mark (orders.unsettled_scan.below; normally none: the mark stays resume-after behind the clock). The sweep
--   raises the mark in one transaction; once every transaction that began before the next sweep has ended (so
--   that none can still commit an order below the mark unlisted: those that began later read the new mark), it
--   scans the ids between the last scan and the mark and lists the orders still unsettled there. An order
--   settles within a second, so orders.unsettled normally stays empty; the sweep forgets listed orders that
--   settled and names the quiet ones.
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
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    below      uuid NOT NULL,  -- orders.place_orders lists every order it writes with a smaller id
    scanned_to uuid NOT NULL,  -- every order with a smaller id was looked at by the sweep or listed (<= below)
    raised_xid xid8,           -- the id of the first sweep after `below` was last raised (NULL until it ran)
    moved_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders.unsettled (
    order_id uuid PRIMARY KEY  -- an order passed by the scan (or placed below the mark) that may still be unsettled
);

-- The orders that exist now: all looked at, the unsettled ones listed (through the old index, before it goes). No
-- order may be written meanwhile (a server still running during the migration): its id could fall below the mark
-- unlisted.
LOCK TABLE orders.orders IN SHARE MODE;
INSERT INTO orders.unsettled (order_id) SELECT id FROM orders.orders WHERE status IN ('PENDING', 'PAID');
INSERT INTO orders.unsettled_scan (below, scanned_to)
SELECT m, m FROM (SELECT greatest(coalesce((SELECT id FROM orders.orders ORDER BY id DESC LIMIT 1),
                                           '00000000-0000-0000-0000-000000000000'::uuid),
                                  orders.uuid_floor(now())) AS m) AS x;

-- The first step of the resumer's sweep, a transaction of its own: raises the mark to the orders created
-- p_quiet_ms ago, once the previous raise has been scanned to the end.
CREATE FUNCTION orders.raise_unsettled_mark(p_quiet_ms bigint) RETURNS void
LANGUAGE sql AS $$
    WITH m AS (SELECT orders.uuid_floor(clock_timestamp() - p_quiet_ms * interval '1 millisecond') AS mark)
    UPDATE orders.unsettled_scan SET below = m.mark, raised_xid = NULL, moved_at = now()
    FROM m WHERE scanned_to = below AND below < m.mark
$$;

-- The resumer's sweep, after orders.raise_unsettled_mark committed (the maintenance loop, every sixth of
-- resume-after, in every server process; one at a time): once no transaction that began before the first sweep
-- after the raise is still running, looks at the orders between the last scan and the mark (at most p_scan_limit
-- a call) and lists those still PENDING or PAID; forgets listed orders that settled since; returns the listed
-- orders unchanged for p_quiet_ms, oldest change first (at most p_limit).
CREATE FUNCTION orders.sweep_unsettled(p_quiet_ms bigint, p_scan_limit integer, p_limit integer)
RETURNS SETOF uuid
LANGUAGE plpgsql AS $$
DECLARE
    quiet_since timestamptz := clock_timestamp() - p_quiet_ms * interval '1 millisecond';
    st orders.unsettled_scan;
    next_id uuid;
    -- Called inside a transaction that already had an id, this call's id may be older than the raise: it does not
    -- record it then (the recording is left to a call of its own).
    own_id_is_new boolean := pg_current_xact_id_if_assigned() IS NULL;
BEGIN
    SELECT * INTO st FROM orders.unsettled_scan FOR UPDATE;  -- one sweep at a time; assigns this call's id
    IF st.scanned_to < st.below THEN
        IF st.raised_xid IS NULL AND own_id_is_new THEN
            -- This transaction began after the raise committed: every transaction that may have read the old mark
            -- got its id before this one. A later call scans once none of them is still running (a later one: a
            -- snapshot lists the running ids only below the last id that completed).
            UPDATE orders.unsettled_scan SET raised_xid = pg_current_xact_id();
        ELSIF st.raised_xid IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM pg_snapshot_xip(pg_current_snapshot()) AS x WHERE x < st.raised_xid) THEN
            -- p_scan_limit orders are looked at; the one after them, if any, is where the next call goes on.
            WITH s AS (
                SELECT o.id, o.status, row_number() OVER (ORDER BY o.id) AS n FROM (
                    SELECT o.id, o.status FROM orders.orders o
                    WHERE o.id >= st.scanned_to AND o.id < st.below ORDER BY o.id LIMIT p_scan_limit + 1) AS o
            ), listed AS (
                INSERT INTO orders.unsettled (order_id)
                SELECT s.id FROM s WHERE s.n <= p_scan_limit AND s.status IN ('PENDING', 'PAID')
                ON CONFLICT DO NOTHING
            )
            SELECT s.id INTO next_id FROM s WHERE s.n > p_scan_limit;
            UPDATE orders.unsettled_scan SET scanned_to = coalesce(next_id, st.below), moved_at = now();
        END IF;
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

-- migration 0019's body, with the listing of orders placed below the mark.
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
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'orders.place_orders runs in READ COMMITTED (the resumer''s mark is read after the inserts)';
    END IF;
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

    -- An order whose id is below the resumer's mark (its id's clock is behind the database's, or its request
    -- waited long) would never be scanned: it is listed at once. Normally none is. Read after the inserts, so
    -- after this transaction's id was assigned, with a snapshot of this statement (READ COMMITTED, checked at the
    -- top): orders.sweep_unsettled relies on both.
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
