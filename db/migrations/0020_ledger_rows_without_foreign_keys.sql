-- Issue 6: no foreign-key checks on the order path's ledger rows.
--
-- Each order wrote seven rows whose foreign key PostgreSQL checked with a trigger that looks the parent row up and
-- locks it (FOR KEY SHARE): its stock movement (→ product), its payment (→ payment method), the payment's attempt
-- and two events (→ payment), the delivery's history row (→ delivery) and the order's seller row (→ order): 7
-- trigger runs, ~7 us each (100 parent rows and 300 children in one statement: 4.2-5.3 ms with the key, 2.3-2.8 ms
-- without; pgbench on the 2-core VM), and row-lock WAL records from 9.7 down to 4.8 an order without them
-- (pg_walinspect at 800 orders/s; docs/performance.md). The payment methods are few and shared by all of a
-- buyer's orders, so concurrent orders locked the same method rows.
--
-- What the keys guaranteed still holds, by construction: each of these rows is written by the service that owns
-- both tables, in the statement or transaction that writes or reads its parent, and no code deletes a product,
-- payment method, payment, delivery or order (methods are deleted softly, deleted_at). `openmarket-load audit`
-- checks after every load run that each of these rows has its parent ("ledger rows have their records").
-- product.idempotency_keys keeps its key (off the order path).
ALTER TABLE product.stock_movements DROP CONSTRAINT stock_movements_product_id_fkey;
ALTER TABLE payment.payments DROP CONSTRAINT payments_method_id_fkey;
ALTER TABLE payment.payment_attempts DROP CONSTRAINT payment_attempts_payment_id_fkey;
ALTER TABLE payment.payment_events DROP CONSTRAINT payment_events_payment_id_fkey;
ALTER TABLE delivery.history DROP CONSTRAINT history_delivery_id_fkey;
ALTER TABLE orders.order_sellers DROP CONSTRAINT order_sellers_order_id_fkey;
