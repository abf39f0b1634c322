-- name: LockOrder :one
SELECT * FROM orders WHERE member_id = @member_id AND order_id = @order_id FOR UPDATE;

-- name: EnsureOrder :exec
-- An order the member only redeemed on gets a row when first reversed on (a
-- refund's batch inserts it with the refund).
INSERT INTO orders (member_id, order_id) VALUES (@member_id, @order_id)
ON CONFLICT (member_id, order_id) DO NOTHING;

-- name: HoldEntryID :one
SELECT entry_id FROM entries WHERE hold_id = $1 AND kind = 'HOLD';

-- name: GetOrder :one
SELECT * FROM orders WHERE member_id = @member_id AND order_id = @order_id;
