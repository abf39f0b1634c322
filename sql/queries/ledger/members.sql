-- name: InsertMember :one
-- Returns no row when the member already exists.
INSERT INTO members (member_id, display_name)
VALUES ($1, $2)
ON CONFLICT (member_id) DO NOTHING
RETURNING *;

-- name: GetMember :one
SELECT * FROM members WHERE member_id = $1;
