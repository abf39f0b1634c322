-- name: HoldEntryID :one
SELECT entry_id FROM entries WHERE hold_id = $1 AND kind = 'HOLD';

-- name: GetOrder :one
SELECT * FROM orders WHERE member_id = @member_id AND order_id = @order_id;

-- name: GetOrderRead :one
-- An order with what the reads add to it: its time (ListMemberOrders says which)
-- and its earned points still pending.
SELECT sqlc.embed(o), e.entry_id AS order_entry_id, e.create_time AS order_time,
       coalesce((SELECT sum(p.points) FROM pending_releases p
                 WHERE p.member_id = o.member_id AND p.order_id = o.order_id AND NOT p.released), 0)::bigint AS points_pending
FROM orders o
JOIN entries e ON e.entry_id = coalesce(o.earn_entry_id,
    (SELECT min(x.entry_id) FROM entries x WHERE o.earn_entry_id IS NULL AND x.member_id = o.member_id AND x.order_id = o.order_id))
WHERE o.member_id = @member_id AND o.order_id = @order_id;

-- name: ListMemberOrders :many
-- A member's orders, newest first by the entry that made each: its earning, or for
-- an order only redeemed on (it has a row once refunded), its first entry. The
-- earning is a primary key read; only those rare orders look for their first
-- entry. A member's orders are few enough to order them all in the read.
SELECT sqlc.embed(o), e.entry_id AS order_entry_id, e.create_time AS order_time,
       coalesce((SELECT sum(p.points) FROM pending_releases p
                 WHERE p.member_id = o.member_id AND p.order_id = o.order_id AND NOT p.released), 0)::bigint AS points_pending
FROM orders o
JOIN entries e ON e.entry_id = coalesce(o.earn_entry_id,
    (SELECT min(x.entry_id) FROM entries x WHERE o.earn_entry_id IS NULL AND x.member_id = o.member_id AND x.order_id = o.order_id))
WHERE o.member_id = @member_id AND e.entry_id < @before_entry_id
  AND e.create_time >= @start_time AND e.create_time < @end_time
ORDER BY e.entry_id DESC
LIMIT @page_size;
