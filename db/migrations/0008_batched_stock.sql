-- Issue 6: the stock of a whole group commit in one statement per product, products locked in id order.
--
-- Until now orders.place_orders called product.take_stock once per order (0010 makes it call this instead): one UPDATE per order line, so a
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
