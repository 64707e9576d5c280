-- Issue 6: a lighter group commit (orders.place_orders is most of PostgreSQL's work per order at small batches).
--
-- 1. The products' stamp_change trigger fires only when the search feed needs the stamp: the condition of
--    migration 0012 is now the trigger's WHEN clause, so an order's stock change (one that does not cross
--    zero) calls no plpgsql at all.
-- 2. place_orders writes the orders, their sellers and their OrderPlaced rows in one statement (three before),
--    with the same contract as migration 0010: one row per element of the batch, in order, CREATED or
--    DUPLICATE with the order that holds (buyer, Idempotency-Key); OM002 when a reservation is too old; the
--    stock errors of product.take_stock_many. Any error writes nothing of the batch.
DROP TRIGGER products_stamp_change ON product.products;
CREATE TRIGGER products_stamp_change BEFORE UPDATE ON product.products
    FOR EACH ROW
    WHEN ((NEW.stock > 0) IS DISTINCT FROM (OLD.stock > 0)
          OR (NEW.seller_id, NEW.name, NEW.description, NEW.price, NEW.currency, NEW.category, NEW.status)
             IS DISTINCT FROM (OLD.seller_id, OLD.name, OLD.description, OLD.price, OLD.currency, OLD.category,
                               OLD.status))
    EXECUTE FUNCTION product.stamp_change();

CREATE OR REPLACE FUNCTION orders.place_orders(p_batch jsonb, p_max_age_ms bigint)
RETURNS TABLE (order_id uuid, outcome text, existing_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
    stale uuid;
    created uuid[];
    lines jsonb;
BEGIN
    SELECT (x ->> 'id')::uuid INTO stale FROM jsonb_array_elements(p_batch) AS x
    WHERE (extract(epoch FROM clock_timestamp()) * 1000)::bigint - (x ->> 'reservedAtMs')::bigint > p_max_age_ms
    LIMIT 1;
    IF stale IS NOT NULL THEN
        RAISE EXCEPTION 'the reservation of order % is older than % ms', stale, p_max_age_ms USING ERRCODE = 'OM002';
    END IF;

    WITH b AS (
        SELECT o, n FROM jsonb_array_elements(p_batch) WITH ORDINALITY AS b (o, n)
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
        SELECT DISTINCT (i ->> 'sellerId')::uuid, ins.id
        FROM ins JOIN b ON (b.o ->> 'id')::uuid = ins.id, jsonb_array_elements(b.o -> 'items') AS i
    ), placed AS (
        INSERT INTO orders.outbox (id, event_type, aggregate_id, payload)
        SELECT (b.o -> 'event' ->> 'eventId')::uuid, 'OrderPlaced', b.o ->> 'id', b.o -> 'event'
        FROM ins JOIN b ON (b.o ->> 'id')::uuid = ins.id
        ORDER BY b.n
    )
    SELECT coalesce(array_agg(id), '{}') INTO created FROM ins;

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
           CASE WHEN (o ->> 'id')::uuid = ANY (created) THEN 'CREATED' ELSE 'DUPLICATE' END,
           CASE WHEN (o ->> 'id')::uuid = ANY (created) THEN NULL::uuid
                ELSE (SELECT e.id FROM orders.orders e
                      WHERE e.buyer_id = (o ->> 'buyerId')::uuid AND e.idempotency_key = o ->> 'key') END
    FROM jsonb_array_elements(p_batch) WITH ORDINALITY AS b (o, n)
    ORDER BY n;
END
$$;
