-- name: GetHold :one
SELECT * FROM holds WHERE hold_id = $1;

-- name: ExpiredHolds :many
-- Expired active holds, for the expiry job. Not locked here: the write path locks
-- each hold after its member, as every closing of a hold does, and a hold another
-- replica expired meanwhile answers as a repeat.
SELECT hold_id FROM holds
WHERE status = 'ACTIVE' AND expire_time <= @now
ORDER BY expire_time
LIMIT @max_holds;
