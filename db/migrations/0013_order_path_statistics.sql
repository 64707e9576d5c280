-- Issue 6: no automatic ANALYZE of the tables the order path writes, outside of what their size calls for.
--
-- Every query of the order path on these tables finds rows by key (primary key, unique key, the order id or
-- a partial index), so their plans do not depend on statistics. But autovacuum analyzes a table once 50 rows
-- + 10 % of it have changed: a table growing by hundreds of rows a second (orders, outbox, ledger) was analyzed
-- every autovacuum round, the small hot products table of a flash sale too, and each ANALYZE invalidates the
-- cached plans of that table in every backend, so that all of them plan their statements again (perf, 250
-- orders/s: autovacuum's ANALYZE ~6 % of the machine, re-planning in GetCachedPlan ~8 %; docs/performance.md).
-- A table is now analyzed after a million changed rows plus 10 % of its size: stable plans, and a
-- large table keeps being analyzed as it grows. VACUUM is unchanged (dead rows and the visibility map need it).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['orders.orders', 'orders.outbox', 'orders.order_sellers', 'payment.payments',
                             'payment.payment_attempts', 'payment.payment_events', 'payment.idempotency_keys',
                             'payment.outbox', 'delivery.deliveries', 'delivery.history', 'delivery.outbox',
                             'product.stock_movements', 'product.products'] LOOP
        EXECUTE format('ALTER TABLE %s SET (autovacuum_analyze_threshold = 1000000)', t);
    END LOOP;
END
$$;
