-- Issue 6: stock moved by orders no longer counts as a change of the product's representation.
--
-- product.take_stock, product.take_stock_many and product.return_stock set the stock only: version and
-- updated_at now count the seller's changes (create, PUT /products/{id}, PUT .../inventory). GET
-- /products/{id} shows the gate's stock (what can be reserved now) spliced into its cached representation, with
-- an ETag of version and stock, so the cached entry no longer has to be dropped after every order: during a
-- sale nearly every GET read PostgreSQL, and a seller's PUT with If-Match failed whenever a buyer had bought in
-- between. The bodies are those of migrations 0007 and 0008 otherwise.

CREATE OR REPLACE FUNCTION product.take_stock(p_order uuid, p_epoch text, p_lines jsonb) RETURNS void
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
        SET stock = p.stock - l.q
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

CREATE OR REPLACE FUNCTION product.take_stock_many(p_lines jsonb) RETURNS void
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
        SET stock = p.stock - t.q
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

CREATE OR REPLACE FUNCTION product.return_stock(p_order uuid) RETURNS text
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
        SET stock = p.stock + o.q
        FROM owed o WHERE p.id = o.product_id
        RETURNING p.id AS pid, o.q AS q, p.stock AS s
    )
    INSERT INTO product.stock_movements (product_id, delta, resulting_stock, reason, order_id)
    SELECT pid, q, s, 'ORDER_RELEASE', p_order FROM u;
    RETURN current_epoch;
END
$$;
