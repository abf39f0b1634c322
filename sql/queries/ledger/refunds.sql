-- name: HoldEntryID :one
SELECT entry_id FROM entries WHERE hold_id = $1 AND kind = 'HOLD';

-- name: GetOrder :one
SELECT * FROM orders WHERE member_id = @member_id AND order_id = @order_id;

-- name: GetOrderRead :one
-- An order with what the reads add to it: its time and key (ListMemberOrders says
-- which) and its earned points still pending.
SELECT sqlc.embed(o),
       coalesce(o.earn_entry_id, (SELECT min(coalesce(r.return_entry_id, r.take_entry_id, 0)) FROM refunds r
                                  WHERE o.earn_entry_id IS NULL AND r.member_id = o.member_id AND r.order_id = o.order_id), 0)::bigint AS order_entry_id,
       coalesce(e.create_time, (SELECT min(r.create_time) FROM refunds r
                                WHERE o.earn_entry_id IS NULL AND r.member_id = o.member_id AND r.order_id = o.order_id))::timestamptz AS order_time,
       coalesce((SELECT sum(p.points) FROM pending_releases p
                 WHERE p.member_id = o.member_id AND p.order_id = o.order_id AND NOT p.released), 0)::bigint AS points_pending
FROM orders o
LEFT JOIN entries e ON e.member_id = o.member_id AND e.entry_id = o.earn_entry_id
WHERE o.member_id = @member_id AND o.order_id = @order_id;

-- name: ListMemberOrders :many
-- A member's orders, newest first by the entry that made each: its earning, or, for
-- an order only redeemed on (it has a row once refunded), its first refund's entry
-- and time. Each is a primary key or refunds_order_idx read: the plan stays within
-- the member's orders, whatever the size of entries. A member's orders are few
-- enough to order them all in the read.
SELECT sqlc.embed(o),
       coalesce(o.earn_entry_id, (SELECT min(coalesce(r.return_entry_id, r.take_entry_id, 0)) FROM refunds r
                                  WHERE o.earn_entry_id IS NULL AND r.member_id = o.member_id AND r.order_id = o.order_id), 0)::bigint AS order_entry_id,
       coalesce(e.create_time, (SELECT min(r.create_time) FROM refunds r
                                WHERE o.earn_entry_id IS NULL AND r.member_id = o.member_id AND r.order_id = o.order_id))::timestamptz AS order_time,
       coalesce((SELECT sum(p.points) FROM pending_releases p
                 WHERE p.member_id = o.member_id AND p.order_id = o.order_id AND NOT p.released), 0)::bigint AS points_pending
FROM orders o
LEFT JOIN entries e ON e.member_id = o.member_id AND e.entry_id = o.earn_entry_id
WHERE o.member_id = @member_id
  AND coalesce(o.earn_entry_id, (SELECT min(coalesce(r.return_entry_id, r.take_entry_id, 0)) FROM refunds r
                                 WHERE o.earn_entry_id IS NULL AND r.member_id = o.member_id AND r.order_id = o.order_id), 0) < @before_entry_id::bigint
  -- [start, end): tstzrange's default bounds.
  AND tstzrange(@start_time::timestamptz, @end_time::timestamptz) @> coalesce(e.create_time, (SELECT min(r.create_time) FROM refunds r
                               WHERE o.earn_entry_id IS NULL AND r.member_id = o.member_id AND r.order_id = o.order_id))
ORDER BY order_entry_id DESC
LIMIT @page_size;
