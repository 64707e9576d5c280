-- Facet counts for searches without a text query: maintained per category, so that a filter-only search
-- (e.g. "all products of a category, newest first") does not count the whole catalog on every request.
-- Statement-level triggers with transition tables: a COPY of a million rows is one aggregated update, and a
-- stock change writes nothing here unless the product enters or leaves "in stock" (or ACTIVE, or its category).
CREATE TABLE product.category_counts (
    category        text PRIMARY KEY,
    active          bigint NOT NULL DEFAULT 0,  -- ACTIVE products
    active_in_stock bigint NOT NULL DEFAULT 0   -- ACTIVE products with stock > 0
);

INSERT INTO product.category_counts (category, active, active_in_stock)
SELECT category, count(*), count(*) FILTER (WHERE stock > 0)
FROM product.products WHERE status = 'ACTIVE' GROUP BY category;

CREATE FUNCTION product.apply_category_deltas(deltas jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO product.category_counts AS c (category, active, active_in_stock)
    SELECT d.key, (d.value ->> 0)::bigint, (d.value ->> 1)::bigint FROM jsonb_each(deltas) d
    ON CONFLICT (category) DO UPDATE
        SET active = c.active + EXCLUDED.active, active_in_stock = c.active_in_stock + EXCLUDED.active_in_stock;
$$;

CREATE FUNCTION product.count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM product.apply_category_deltas(coalesce((
        SELECT jsonb_object_agg(category, jsonb_build_array(a, s)) FROM (
            SELECT category, count(*) AS a, count(*) FILTER (WHERE stock > 0) AS s
            FROM new_rows WHERE status = 'ACTIVE' GROUP BY category) x), '{}'));
    RETURN NULL;
END $$;

CREATE FUNCTION product.count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM product.apply_category_deltas(coalesce((
        SELECT jsonb_object_agg(category, jsonb_build_array(a, s)) FROM (
            SELECT category, sum(a) AS a, sum(s) AS s FROM (
                SELECT category, 1 AS a, (stock > 0)::int AS s FROM new_rows WHERE status = 'ACTIVE'
                UNION ALL
                SELECT category, -1, -((stock > 0)::int) FROM old_rows WHERE status = 'ACTIVE') d
            GROUP BY category HAVING sum(a) <> 0 OR sum(s) <> 0) x), '{}'));
    RETURN NULL;
END $$;

CREATE FUNCTION product.count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM product.apply_category_deltas(coalesce((
        SELECT jsonb_object_agg(category, jsonb_build_array(-a, -s)) FROM (
            SELECT category, count(*) AS a, count(*) FILTER (WHERE stock > 0) AS s
            FROM old_rows WHERE status = 'ACTIVE' GROUP BY category) x), '{}'));
    RETURN NULL;
END $$;

CREATE TRIGGER products_count_inserted AFTER INSERT ON product.products
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product.count_inserted();
CREATE TRIGGER products_count_updated AFTER UPDATE ON product.products
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product.count_updated();
CREATE TRIGGER products_count_deleted AFTER DELETE ON product.products
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION product.count_deleted();
