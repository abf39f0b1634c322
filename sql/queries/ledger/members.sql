-- name: InsertMember :one
-- Returns no row when the member already exists. The member's balance row is
-- created with it.
WITH m AS (
    INSERT INTO members (member_id, display_name, join_time, birthday_month, birthday_day, birthday_year, channel, attributes)
    VALUES (@member_id, @display_name, @join_time, sqlc.narg(birthday_month), sqlc.narg(birthday_day), sqlc.narg(birthday_year),
            @channel, @attributes)
    ON CONFLICT (member_id) DO NOTHING
    RETURNING *
), b AS (
    INSERT INTO member_balances (member_id) SELECT member_id FROM m
)
SELECT * FROM m;

-- name: GetMember :one
SELECT * FROM members WHERE member_id = $1;

-- name: LockMemberProfile :one
-- The member's row, locked, for a change of its profile.
SELECT * FROM members WHERE member_id = $1 FOR UPDATE;

-- name: UpdateMemberProfile :one
UPDATE members
SET display_name = @display_name, birthday_month = sqlc.narg(birthday_month), birthday_day = sqlc.narg(birthday_day),
    birthday_year = sqlc.narg(birthday_year), channel = @channel, attributes = @attributes
WHERE member_id = @member_id
RETURNING *;
