-- Search moves into the server's in-memory index (backend/product/search_index.hpp), which follows the
-- catalog through a change feed: every insert and update stamps the row with the id of the transaction
-- that wrote it, and a reader asks for the rows stamped at or after the oldest transaction that was still
-- running when it last read (pg_snapshot_xmin). Rows of transactions that commit late are thus never missed.
ALTER TABLE product.products ADD COLUMN change_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX products_change_xid ON product.products (change_xid);

CREATE FUNCTION product.stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_xid := pg_current_xact_id();
    RETURN NEW;
END $$;
CREATE TRIGGER products_stamp_change BEFORE UPDATE ON product.products
    FOR EACH ROW EXECUTE FUNCTION product.stamp_change();

-- The index computes its facets itself and no query uses the trigram or search-order indexes any more:
-- drop them so that writes (stock changes on the order path above all) do not pay for them.
DROP TRIGGER products_count_inserted ON product.products;
DROP TRIGGER products_count_updated ON product.products;
DROP TRIGGER products_count_deleted ON product.products;
DROP FUNCTION product.count_inserted();
DROP FUNCTION product.count_updated();
DROP FUNCTION product.count_deleted();
DROP FUNCTION product.apply_category_deltas(jsonb);
DROP TABLE product.category_counts;
DROP INDEX product.products_name_trgm;
DROP INDEX product.products_category_trgm;
DROP INDEX product.products_active_newest;
DROP INDEX product.products_active_price;
DROP INDEX product.products_active_category;
