-- Issue 6: no planner statistics for JSON documents that no query filters, joins or sorts on.
--
-- Under order load autovacuum's ANALYZE of these tables (every ~10 % of new rows) sorted 30,000 sampled
-- documents per column to build statistics nobody uses: a profile of 200 orders/s showed a fifth of the
-- machine's CPU in analyze_rel (jsonb comparisons). The other columns keep their statistics.
ALTER TABLE orders.orders ALTER COLUMN items SET STATISTICS 0;
ALTER TABLE orders.orders ALTER COLUMN history SET STATISTICS 0;
ALTER TABLE orders.outbox ALTER COLUMN payload SET STATISTICS 0;
ALTER TABLE payment.outbox ALTER COLUMN payload SET STATISTICS 0;
ALTER TABLE delivery.outbox ALTER COLUMN payload SET STATISTICS 0;
ALTER TABLE delivery.deliveries ALTER COLUMN address SET STATISTICS 0;
