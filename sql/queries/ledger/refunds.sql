-- name: HoldEntryID :one
SELECT entry_id FROM entries WHERE hold_id = $1 AND kind = 'HOLD';

-- name: GetOrder :one
SELECT * FROM orders WHERE member_id = @member_id AND order_id = @order_id;
