-- Issue 6: the stock of a whole group commit in one statement per product, products locked in id order.
--
-- Until now orders.place_orders called product.take_stock once per order: one UPDATE per order line, so a
-- batch of 64 orders for one hot product wrote 64 versions of its row, and two shards' batches that named the
-- same products in different orders deadlocked (PostgreSQL notices after deadlock_timeout, 1 s; the batch was
-- then retried order by order). product.take_stock_many takes every line of the batch at once: it locks the
-- products in id order (concurrent batches queue instead of deadlocking), updates each product once with the
-- batch's total and writes one ledger row per order line whose resulting_stock is the running stock in the
-- batch's order. The gate epoch is checked once per batch, for every line.

CREATE FUNCTION product.take_stock_many(p_lines jsonb) RETURNS void
LANGUAGE plpgsql AS $$
-- p_lines: [{"orderId", "productId", "quantity", "epoch"}, ...] in the order the orders were placed.
DECLARE
    current_epoch text;
    wanted integer;
    taken integer;
BEGIN
    SELECT epoch INTO current_epoch FROM product.gate_state FOR SHARE;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_lines) AS x WHERE x ->> 'epoch' IS DISTINCT FROM current_epoch) THEN
        RAISE EXCEPTION 'stock gate epoch is %, a reservation of this batch was made in another', current_epoch
            USING ERRCODE = 'OM001';
    END IF;
    SELECT count(DISTINCT x ->> 'productId') INTO wanted FROM jsonb_array_elements(p_lines) AS x;
    PERFORM 1 FROM product.products
    WHERE id IN (SELECT (x ->> 'productId')::uuid FROM jsonb_array_elements(p_lines) AS x)
    ORDER BY id FOR UPDATE;
    WITH l AS (
        SELECT (x ->> 'orderId')::uuid AS oid, (x ->> 'productId')::uuid AS pid, (x ->> 'quantity')::bigint AS q, n
        FROM jsonb_array_elements(p_lines) WITH ORDINALITY AS t (x, n)
    ), t AS (
        SELECT pid, sum(q) AS q FROM l GROUP BY pid
    ), u AS (
        UPDATE product.products p
        SET stock = p.stock - t.q, version = p.version + 1, updated_at = now()
        FROM t WHERE p.id = t.pid
        RETURNING p.id AS pid, p.stock AS s
    ), m AS (
        INSERT INTO product.stock_movements (product_id, delta, resulting_stock, reason, order_id)
        SELECT l.pid, -l.q,
               u.s + coalesce(sum(l.q) OVER (PARTITION BY l.pid ORDER BY l.n
                                             ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), 0),
               'ORDER', l.oid
        FROM l JOIN u ON u.pid = l.pid
        ORDER BY l.n
        RETURNING 1
    )
    SELECT count(*) INTO taken FROM u;
    IF taken <> wanted THEN
        RAISE EXCEPTION 'a batch names a product that does not exist' USING ERRCODE = 'OM003';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION orders.place_orders(p_batch jsonb, p_max_age_ms bigint)
RETURNS TABLE (order_id uuid, outcome text, existing_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
    o jsonb;
    new_id uuid;
    lines jsonb := '[]'::jsonb;
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
        lines := lines || (SELECT coalesce(jsonb_agg(jsonb_build_object('orderId', order_id, 'productId',
                                                                         x ->> 'productId', 'quantity',
                                                                         x -> 'quantity', 'epoch', o ->> 'epoch')),
                                           '[]'::jsonb)
                           FROM jsonb_array_elements(o -> 'lines') AS x);
        INSERT INTO orders.order_sellers (seller_id, order_id)
        SELECT DISTINCT (i ->> 'sellerId')::uuid, order_id FROM jsonb_array_elements(o -> 'items') AS i;
        INSERT INTO orders.outbox (id, event_type, aggregate_id, payload)
        VALUES ((o -> 'event' ->> 'eventId')::uuid, 'OrderPlaced', order_id::text, o -> 'event');
        outcome := 'CREATED';
        existing_id := NULL;
        RETURN NEXT;
    END LOOP;
    IF jsonb_array_length(lines) > 0 THEN
        PERFORM product.take_stock_many(lines);
    END IF;
END
$$;
