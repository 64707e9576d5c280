-- Issue 6: stock changes that the search index does not need no longer move the search feed's stamp, so that
-- they can be HOT updates.
--
-- The search index (backend/product/search_index.cpp) keeps of a product's stock only whether it is above
-- zero (the inStockOnly filter); search pages read the products themselves from this table. Stamping
-- change_xid (indexed, for the feed) on every order's stock change made each of those updates non-HOT: a new
-- entry in every index of the table and a dead version behind, on the hottest rows of a sale. Now a change of
-- stock alone (with version and updated_at) that does not cross zero leaves change_xid as it is, and the
-- table keeps room on its pages for the new versions (fillfactor; pages written from now on).
CREATE OR REPLACE FUNCTION product.stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.stock > 0) = (OLD.stock > 0)
       AND (NEW.seller_id, NEW.name, NEW.description, NEW.price, NEW.currency, NEW.category, NEW.status)
           IS NOT DISTINCT FROM (OLD.seller_id, OLD.name, OLD.description, OLD.price, OLD.currency, OLD.category,
                                 OLD.status) THEN
        RETURN NEW;
    END IF;
    NEW.change_xid := pg_current_xact_id();
    RETURN NEW;
END $$;

ALTER TABLE product.products SET (fillfactor = 80);
