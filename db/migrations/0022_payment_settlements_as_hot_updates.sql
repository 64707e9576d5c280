-- Issue 6: the payment's settlement becomes a HOT update (no new entries in the table's three indexes).
--
-- The settlement (APPROVED / DECLINED with the gateway's reference) changes no indexed column, but the payment
-- service settles a batch of payments, inserted together on the same few pages, in one statement, and a HOT
-- update needs room for the new version on the row's own page: with the default fillfactor only 8 % of the
-- settlements were HOT. As for orders.orders (migration 0021), a fillfactor of 50 leaves room for a new version
-- of every row of a page. Measured at 1,200 orders/s (two alternating pairs, docs/performance.md, thirteenth
-- session): 83-84 % HOT, the settle statement 1.50-1.54 s -> 1.06-1.08 s of statement time per 27,000 orders, WAL
-- per order 8.18 -> 7.89 KB. The table takes about twice the pages (a payment row is ~190 bytes).
ALTER TABLE payment.payments SET (fillfactor = 50);
