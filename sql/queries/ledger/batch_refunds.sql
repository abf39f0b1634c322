-- name: LockBatchOrders :batchmany
-- Refunds in the write path's batch (ledger/batch_refund.go). read: the orders the batch refunds, locked after their members. An order the
-- member only redeemed on has no row yet: the write step inserts it.
SELECT o.*
FROM orders o
JOIN (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@order_ids::text[]) AS order_id) AS k
    ON o.member_id = k.member_id AND o.order_id = k.order_id
ORDER BY o.member_id, o.order_id
FOR UPDATE OF o;

-- name: StoredRefundsOf :batchmany
-- read: the refunds the batch's request ids already made.
SELECT r.*
FROM refunds r
JOIN (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@request_ids::text[]) AS request_id) AS k
    ON r.member_id = k.member_id AND r.request_id = k.request_id;

-- name: EarningStatesOf :batchmany
-- read: the earnings of the orders the batch refunds, and whether each was
-- reversed.
SELECT o.member_id, o.order_id, o.earn_entry_id::bigint AS earn_entry_id,
       EXISTS (SELECT 1 FROM entries r WHERE r.reverses_entry_id = o.earn_entry_id) AS reversed
FROM orders o
JOIN (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@order_ids::text[]) AS order_id) AS k
    ON o.member_id = k.member_id AND o.order_id = k.order_id
WHERE o.earn_entry_id IS NOT NULL;

-- name: LockRefundedPendingReleases :batchmany
-- read: the pending releases of those earnings, locked after the orders.
SELECT p.*
FROM pending_releases p
WHERE p.entry_id IN (
    SELECT o.earn_entry_id
    FROM orders o
    JOIN (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@order_ids::text[]) AS order_id) AS k
        ON o.member_id = k.member_id AND o.order_id = k.order_id)
ORDER BY p.entry_id
FOR UPDATE OF p;

-- name: OrderRedemptionsOf :batchmany
-- read: what OrderRedemptions reads, for every order the batch refunds.
SELECT e.member_id, e.order_id::text AS order_id, e.entry_id,
       (SELECT coalesce(sum(e.amounts[i]), 0) FROM generate_subscripts(e.accounts, 1) AS i WHERE e.accounts[i] = 'system:redeemed')::bigint AS redeemed,
       coalesce(CASE e.kind
                    WHEN 'REDEEM' THEN e.entry_id
                    WHEN 'HOLD_CAPTURE' THEN (SELECT h.entry_id FROM entries h WHERE h.hold_id = e.hold_id AND h.kind = 'HOLD')
                END, 0)::bigint AS lot_source_entry_id
FROM entries e
JOIN (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@order_ids::text[]) AS order_id) AS k
    ON e.member_id = k.member_id AND e.order_id = k.order_id
WHERE e.kind IN ('REDEEM', 'HOLD_CAPTURE', 'REVERSAL')
ORDER BY e.entry_id;

-- name: RestorableLotsOfOrders :batchmany
-- read: what the redemptions on the orders the batch refunds consumed from lots
-- and have not had back yet, per lot (RestorableLotsOf, by order).
SELECT m.source_entry_id, m.lot_id, (-sum(m.points))::bigint AS restorable,
       l.member_id, l.remaining, l.expire_time, coalesce(l.origin_entry_id, 0)::bigint AS origin_entry_id
FROM lot_moves m
JOIN lots l ON l.lot_id = m.lot_id
WHERE m.source_entry_id IN (
    SELECT CASE e.kind WHEN 'REDEEM' THEN e.entry_id
                       ELSE (SELECT h.entry_id FROM entries h WHERE h.hold_id = e.hold_id AND h.kind = 'HOLD') END
    FROM entries e
    JOIN (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@order_ids::text[]) AS order_id) AS k
        ON e.member_id = k.member_id AND e.order_id = k.order_id
    WHERE e.kind IN ('REDEEM', 'HOLD_CAPTURE'))
GROUP BY m.source_entry_id, m.lot_id, l.member_id, l.remaining, l.expire_time, l.origin_entry_id
HAVING sum(m.points) < 0;

-- name: WriteRefundedOrders :batchexec
-- write: the orders as the batch's refunds left them (a row for an order only
-- redeemed on, too).
INSERT INTO orders AS o (member_id, order_id, refunded_minor, fully_refunded, points_taken_back, points_returned,
                         metric_points_taken, metric_spend_taken)
SELECT * FROM (SELECT unnest(@member_ids::text[]) AS member_id,
            unnest(@order_ids::text[]) AS order_id,
            unnest(@refunded_minor::bigint[]) AS refunded_minor,
            unnest(@fully_refunded::boolean[]) AS fully_refunded,
            unnest(@points_taken_back::bigint[]) AS points_taken_back,
            unnest(@points_returned::bigint[]) AS points_returned,
            unnest(@metric_points_taken::bigint[]) AS metric_points_taken,
            unnest(@metric_spend_taken::bigint[]) AS metric_spend_taken) AS u
ON CONFLICT (member_id, order_id) DO UPDATE
    SET refunded_minor = excluded.refunded_minor, fully_refunded = excluded.fully_refunded,
        points_taken_back = excluded.points_taken_back, points_returned = excluded.points_returned,
        metric_points_taken = excluded.metric_points_taken, metric_spend_taken = excluded.metric_spend_taken;

-- name: WriteRefunds :batchexec
-- write: the batch's refunds, each with the order as it left it.
INSERT INTO refunds (member_id, request_id, order_id, fingerprint, amount_minor, points_voided, points_clawed_back,
                     points_returned, take_entry_id, return_entry_id, order_refunded_minor, order_fully_refunded,
                     order_points_taken_back, order_points_returned, create_time)
SELECT u.member_id, u.request_id, u.order_id, u.fingerprint, u.amount_minor, u.points_voided, u.points_clawed_back,
       u.points_returned, nullif(u.take_entry_id, 0), nullif(u.return_entry_id, 0), u.order_refunded_minor,
       u.order_fully_refunded, u.order_points_taken_back, u.order_points_returned, u.create_time
FROM (SELECT unnest(@member_ids::text[]) AS member_id,
            unnest(@request_ids::text[]) AS request_id,
            unnest(@order_ids::text[]) AS order_id,
            unnest(@fingerprints::bytea[]) AS fingerprint,
            unnest(@amount_minor::bigint[]) AS amount_minor,
            unnest(@points_voided::bigint[]) AS points_voided,
            unnest(@points_clawed_back::bigint[]) AS points_clawed_back,
            unnest(@points_returned::bigint[]) AS points_returned,
            unnest(@take_entry_ids::bigint[]) AS take_entry_id,
            unnest(@return_entry_ids::bigint[]) AS return_entry_id,
            unnest(@order_refunded_minor::bigint[]) AS order_refunded_minor,
            unnest(@order_fully_refunded::boolean[]) AS order_fully_refunded,
            unnest(@order_points_taken_back::bigint[]) AS order_points_taken_back,
            unnest(@order_points_returned::bigint[]) AS order_points_returned,
            unnest(@create_times::timestamptz[]) AS create_time) AS u;

-- name: WritePendingVoids :batchexec
-- write: refunds inside the return window lower what is left to release (one row
-- per earning, the batch's voids of it summed; the ids again as an index condition,
-- as in WriteBalances).
UPDATE pending_releases AS p SET points = p.points - u.points, released = (p.points - u.points = 0)
FROM (SELECT unnest(@entry_ids::bigint[]) AS entry_id, unnest(@points::bigint[]) AS points) AS u
WHERE p.entry_id = u.entry_id AND p.entry_id = ANY (@entry_ids::bigint[]);
