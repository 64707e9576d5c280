-- Issue 6: orders.place_orders as a few set-based statements instead of a loop of statements per order.
--
-- Same contract as 0008's version: one row per element of the batch, in order: CREATED (the order, its
-- sellers, its OrderPlaced and its stock movements written), or DUPLICATE with the order that already holds
-- (buyer, Idempotency-Key); OM002 when a reservation is older than p_max_age_ms; the stock errors of
-- product.take_stock_many (OM001 epoch, 23514 not enough stock). Any error writes nothing of the batch.
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

    WITH ins AS (
        INSERT INTO orders.orders (id, buyer_id, idempotency_key, request_hash, status, items, total_amount, currency,
                                   payment_method_id, address_id, history, gate_epoch, created_at, updated_at)
        SELECT (o ->> 'id')::uuid, (o ->> 'buyerId')::uuid, o ->> 'key', o ->> 'hash', 'PENDING', o -> 'items',
               (o ->> 'total')::bigint, o ->> 'currency', (o ->> 'methodId')::uuid, (o ->> 'addressId')::uuid,
               jsonb_build_array(jsonb_build_object('status', 'PENDING', 'at', o ->> 'at')), o ->> 'epoch',
               (o ->> 'at')::timestamptz, (o ->> 'at')::timestamptz
        FROM jsonb_array_elements(p_batch) WITH ORDINALITY AS b (o, n)
        ORDER BY n
        ON CONFLICT (buyer_id, idempotency_key) DO NOTHING
        RETURNING id
    )
    SELECT coalesce(array_agg(id), '{}') INTO created FROM ins;

    IF cardinality(created) > 0 THEN
        INSERT INTO orders.order_sellers (seller_id, order_id)
        SELECT DISTINCT (i ->> 'sellerId')::uuid, (o ->> 'id')::uuid
        FROM jsonb_array_elements(p_batch) AS o, jsonb_array_elements(o -> 'items') AS i
        WHERE (o ->> 'id')::uuid = ANY (created);

        INSERT INTO orders.outbox (id, event_type, aggregate_id, payload)
        SELECT (o -> 'event' ->> 'eventId')::uuid, 'OrderPlaced', o ->> 'id', o -> 'event'
        FROM jsonb_array_elements(p_batch) WITH ORDINALITY AS b (o, n)
        WHERE (o ->> 'id')::uuid = ANY (created)
        ORDER BY n;

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
