-- name: InsertHold :one
INSERT INTO holds (member_id, points, order_id, create_time, expire_time)
VALUES (@member_id, @points, sqlc.narg(order_id), @create_time, @expire_time)
RETURNING *;

-- name: GetHold :one
SELECT * FROM holds WHERE hold_id = $1;

-- name: LockHold :one
SELECT * FROM holds WHERE hold_id = $1 FOR UPDATE;

-- name: CloseHold :one
UPDATE holds SET status = @status, captured_points = @captured_points
WHERE hold_id = @hold_id AND status = 'ACTIVE'
RETURNING *;

-- name: ExpiredHolds :many
-- Expired active holds, for the expiry job. Not locked here: the write path locks
-- each hold after its member, as every closing of a hold does, and a hold another
-- replica expired meanwhile answers as a repeat.
SELECT hold_id FROM holds
WHERE status = 'ACTIVE' AND expire_time <= @now
ORDER BY expire_time
LIMIT @max_holds;

