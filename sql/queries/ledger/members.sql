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

-- name: InsertMembers :many
-- The seeding path (ledger.Service.EnrollMany): members enrolled in one statement,
-- each with its balance row; returns those that did not exist.
WITH m AS (
    INSERT INTO members (member_id, display_name, join_time)
    SELECT u.member_id, '', @join_time::timestamptz FROM unnest(@member_ids::text[]) AS u(member_id)
    ON CONFLICT (member_id) DO NOTHING
    RETURNING member_id, join_time
), b AS (
    INSERT INTO member_balances (member_id) SELECT member_id FROM m
)
SELECT member_id, join_time FROM m;
