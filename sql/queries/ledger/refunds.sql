-- name: LockOrder :one
SELECT * FROM orders WHERE member_id = @member_id AND order_id = @order_id FOR UPDATE;

-- name: EnsureOrder :exec
-- An order the member only redeemed on gets a row when first refunded.
INSERT INTO orders (member_id, order_id) VALUES (@member_id, @order_id)
ON CONFLICT (member_id, order_id) DO NOTHING;

-- name: OrderRedemptions :many
-- The entries that redeemed points on an order and their reversals, each with what
-- it redeemed and the entry whose lot consumption it stands for (a redemption's
-- own, a capture's hold; 0 for a reversal).
SELECT e.entry_id, e.kind,
       (SELECT coalesce(sum(e.amounts[i]), 0) FROM generate_subscripts(e.accounts, 1) AS i WHERE e.accounts[i] = 'system:redeemed')::bigint AS redeemed,
       coalesce(CASE e.kind
                    WHEN 'REDEEM' THEN e.entry_id
                    WHEN 'HOLD_CAPTURE' THEN (SELECT h.entry_id FROM entries h WHERE h.hold_id = e.hold_id AND h.kind = 'HOLD')
                END, 0)::bigint AS lot_source_entry_id
FROM entries e
WHERE e.member_id = @member_id AND e.order_id = @order_id::text
  AND e.kind IN ('REDEEM', 'HOLD_CAPTURE', 'REVERSAL')
ORDER BY e.entry_id;

-- name: HoldEntryID :one
SELECT entry_id FROM entries WHERE hold_id = $1 AND kind = 'HOLD';

-- name: LockPendingRelease :one
SELECT * FROM pending_releases WHERE entry_id = $1 FOR UPDATE;

-- name: VoidPending :exec
-- A refund inside the return window lowers what is left to release.
UPDATE pending_releases SET points = points - @points, released = (points - @points = 0)
WHERE entry_id = @entry_id;

-- name: UpdateOrderRefunded :exec
UPDATE orders
SET refunded_minor = @refunded_minor, fully_refunded = @fully_refunded,
    points_taken_back = @points_taken_back, points_returned = @points_returned,
    metric_points_taken = @metric_points_taken, metric_spend_taken = @metric_spend_taken
WHERE member_id = @member_id AND order_id = @order_id;

-- name: InsertRefund :one
INSERT INTO refunds (member_id, request_id, order_id, fingerprint, amount_minor, points_voided, points_clawed_back,
                     points_returned, take_entry_id, return_entry_id, order_refunded_minor, order_fully_refunded,
                     order_points_taken_back, order_points_returned, create_time)
VALUES (@member_id, @request_id, @order_id, @fingerprint, @amount_minor, @points_voided, @points_clawed_back,
        @points_returned, sqlc.narg(take_entry_id), sqlc.narg(return_entry_id), @order_refunded_minor, @order_fully_refunded,
        @order_points_taken_back, @order_points_returned, @create_time)
RETURNING *;

-- name: GetRefund :one
SELECT * FROM refunds WHERE member_id = @member_id AND request_id = @request_id;

-- name: GetOrder :one
SELECT * FROM orders WHERE member_id = @member_id AND order_id = @order_id;
