-- Issue 6: vacuum the products table by the number of dead rows, not by its size.
--
-- Every order updates its products' rows (stock, version, change_xid); change_xid is indexed (the search
-- feed), so these updates are not HOT and every one leaves a dead version and index entries behind. In a
-- flash sale a few rows take thousands of updates a second, and each later update and read walks past the dead
-- versions until vacuum removes them: under a steady 100 orders/s on 100 products, latency grew from ~20 ms to
-- ~300 ms within a minute (the default launches vacuum at 20 % of the table: for a small catalog that is
-- quick, for a million products it is never). A fixed threshold of dead rows, without throttling, keeps the
-- hot rows short; the deployment's autovacuum_naptime decides how often it looks (./om run and
-- loadtest/bench use 2 s).
ALTER TABLE product.products SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
                                  autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0.2);
