-- name: InsertMember :one
-- Returns no row when the member already exists. The member's balance row is
-- created with it.
WITH m AS (
    INSERT INTO members (member_id, display_name, join_time)
    VALUES (@member_id, @display_name, @join_time)
    ON CONFLICT (member_id) DO NOTHING
    RETURNING *
), b AS (
    INSERT INTO member_balances (member_id) SELECT member_id FROM m
)
SELECT * FROM m;

-- name: GetMember :one
SELECT * FROM members WHERE member_id = $1;
