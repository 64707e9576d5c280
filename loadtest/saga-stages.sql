-- Where an order's time goes between its hops, from the rows the saga wrote (issue 6).
--
--   psql "$DATABASE_URL" -v from=30 -v to=8 -f loadtest/saga-stages.sql
--
-- Takes the orders created between :from and :to seconds ago (defaults: 30 and 8, the middle of a 30-second
-- run that just ended) and prints p50 / p90 / p99 in milliseconds of each step. The timestamps are PostgreSQL's
-- transaction start times (now()), and the order's own created_at is the request's time before the group
-- commit, so each step includes the queueing and lingering before its transaction:
--   placed → payment row      group commit, OrderPlaced published, payment consumer read, method lookup, insert
--   payment row → approved    the gateway call and the settling statement
--   approved → delivery row   PaymentApproved published, delivery consumer read, the deliveries' statement
--   delivery row → order row  DeliveryCreated published, order consumer read, the order's settling commit
--   total                     placed → the order's last update
\if :{?from}
\else
\set from 30
\endif
\if :{?to}
\else
\set to 8
\endif
WITH o AS (
    SELECT id, created_at, updated_at
    FROM orders.orders
    WHERE created_at > now() - make_interval(secs => :from) AND created_at < now() - make_interval(secs => :to)
), j AS (
    SELECT extract(epoch FROM p.created_at - o.created_at) * 1000 AS placed_payment,
           extract(epoch FROM p.approved_at - p.created_at) * 1000 AS payment_approved,
           extract(epoch FROM d.created_at - p.approved_at) * 1000 AS approved_delivery,
           extract(epoch FROM o.updated_at - d.created_at) * 1000 AS delivery_order,
           extract(epoch FROM o.updated_at - o.created_at) * 1000 AS total
    FROM o
    JOIN payment.payments p ON p.order_id = o.id
    JOIN delivery.deliveries d ON d.order_id = o.id
)
SELECT step, count(*) AS orders,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1) AS p50,
       round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 1) AS p90,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1) AS p99
FROM j, LATERAL (VALUES (1, 'placed → payment row', placed_payment),
                        (2, 'payment row → approved', payment_approved),
                        (3, 'approved → delivery row', approved_delivery),
                        (4, 'delivery row → order row', delivery_order),
                        (5, 'total', total)) AS s (n, step, ms)
WHERE ms IS NOT NULL
GROUP BY n, step
ORDER BY n;
