-- Issue 6: an order is priced from the order service's short-lived copy of the product rows instead of a
-- lookup per order (the most frequent statement at 1,000 orders/s: 0.73 per order, 44 % of all), and the
-- group commit checks that copy. Each of the order's lines carries the version of the product row it was
-- priced from ("version"); product.changed_lines locks the batch's products (in id order, as
-- product.take_stock_many does, so this adds no new lock order) and names the lines whose product has another
-- version now, or is gone. Their orders are not written (outcome CHANGED): the order service prices them again
-- from PostgreSQL and writes them in a later batch. A line without "version" is not checked.
--
-- The body of orders.place_orders is migration 0017's otherwise.

CREATE FUNCTION product.changed_lines(p_products uuid[], p_versions integer[])
RETURNS TABLE (n integer)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan  -- its arrays would otherwise be planned again on every call
AS $$
BEGIN
    -- Locked before they are compared, so that no update of them commits between this check and the commit of
    -- the orders priced from them.
    PERFORM 1 FROM product.products WHERE id = ANY (p_products) ORDER BY id FOR UPDATE;
    RETURN QUERY
    SELECT u.n::integer
    FROM unnest(p_products, p_versions) WITH ORDINALITY AS u (product_id, version, n)
    LEFT JOIN product.products p ON p.id = u.product_id
    WHERE u.version IS NOT NULL AND (p.id IS NULL OR p.version <> u.version);
END
$$;

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
