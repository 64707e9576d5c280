-- Issue 6: the order's payment method and address are checked in the group commit, not before it.
--
-- Each order used to look up the buyer's payment method and address (two statements through the payment and
-- delivery services) before its stock was reserved: about one statement per order of the ~2 that PostgreSQL
-- ran per order at 800-1,000 orders/s. orders.place_orders now asks the two services' own functions (defined
-- here in their schemas, like product.take_stock_many: the order service never names their tables) for every
-- order of the batch, writes only the orders whose method and address are the buyer's and live, and answers
-- INVALID:method, INVALID:address or INVALID:method,address for the others (nothing written for them; the
-- order service releases their reservation and answers 422).

CREATE OR REPLACE FUNCTION payment.method_usable(p_member uuid, p_method uuid)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM payment.methods
                   WHERE id = p_method AND member_id = p_member AND deleted_at IS NULL)
$$;

CREATE OR REPLACE FUNCTION delivery.address_usable(p_member uuid, p_address uuid)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM delivery.addresses
                   WHERE id = p_address AND member_id = p_member AND deleted_at IS NULL)
$$;

CREATE OR REPLACE FUNCTION orders.place_orders(p_batch jsonb, p_max_age_ms bigint)
RETURNS TABLE (order_id uuid, outcome text, existing_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
    stale uuid;
    created uuid[];
    lines jsonb;
    bad_method uuid[];
    bad_address uuid[];
BEGIN
    SELECT (x ->> 'id')::uuid INTO stale FROM jsonb_array_elements(p_batch) AS x
    WHERE (extract(epoch FROM clock_timestamp()) * 1000)::bigint - (x ->> 'reservedAtMs')::bigint > p_max_age_ms
    LIMIT 1;
    IF stale IS NOT NULL THEN
        RAISE EXCEPTION 'the reservation of order % is older than % ms', stale, p_max_age_ms USING ERRCODE = 'OM002';
    END IF;

    -- The buyer's payment method and address, checked here (in the transaction that writes the order) through
    -- the payment and delivery services' own functions instead of two lookups before it.
    SELECT coalesce(array_agg(v.id) FILTER (WHERE NOT v.method_ok), '{}'),
           coalesce(array_agg(v.id) FILTER (WHERE NOT v.address_ok), '{}')
    INTO bad_method, bad_address
    FROM (SELECT (x ->> 'id')::uuid AS id,
                 payment.method_usable((x ->> 'buyerId')::uuid, (x ->> 'methodId')::uuid) AS method_ok,
                 delivery.address_usable((x ->> 'buyerId')::uuid, (x ->> 'addressId')::uuid) AS address_ok
          FROM jsonb_array_elements(p_batch) AS x) AS v;

    WITH b AS (
        SELECT o, n FROM jsonb_array_elements(p_batch) WITH ORDINALITY AS b (o, n)
        WHERE NOT ((o ->> 'id')::uuid = ANY (bad_method) OR (o ->> 'id')::uuid = ANY (bad_address))
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
           CASE WHEN (o ->> 'id')::uuid = ANY (created) THEN 'CREATED'
                WHEN (o ->> 'id')::uuid = ANY (bad_method) AND (o ->> 'id')::uuid = ANY (bad_address)
                    THEN 'INVALID:method,address'
                WHEN (o ->> 'id')::uuid = ANY (bad_method) THEN 'INVALID:method'
                WHEN (o ->> 'id')::uuid = ANY (bad_address) THEN 'INVALID:address'
                ELSE 'DUPLICATE' END,
           CASE WHEN (o ->> 'id')::uuid = ANY (created) OR (o ->> 'id')::uuid = ANY (bad_method)
                     OR (o ->> 'id')::uuid = ANY (bad_address) THEN NULL::uuid
                ELSE (SELECT e.id FROM orders.orders e
                      WHERE e.buyer_id = (o ->> 'buyerId')::uuid AND e.idempotency_key = o ->> 'key') END
    FROM jsonb_array_elements(p_batch) WITH ORDINALITY AS b (o, n)
    ORDER BY n;
END
$$;
