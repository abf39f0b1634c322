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

-- name: GetMemberWithTierAt :many
-- A member and what its effective tier at @at is decided from, in one read (a
-- member page view is then one round trip): the qualified tier, and one row per
-- paid membership not over by then, as tiers' MemberTierAt reads them (a member
-- without one: one row, the membership columns null; an unknown member: no row).
SELECT sqlc.embed(m), t.tier_id AS qualified_tier_id,
       ms.tier_id AS paid_tier_id, ms.start_time AS paid_start_time, ms.end_time AS paid_end_time,
       ms.cancel_time AS paid_cancel_time
FROM members m
LEFT JOIN member_tiers t ON t.member_id = m.member_id
LEFT JOIN memberships ms ON ms.member_id = m.member_id AND ms.end_time > @at
WHERE m.member_id = @member_id
ORDER BY ms.membership_id;

-- name: LockMemberProfile :one
-- The member's row, locked, for a change of its profile.
SELECT * FROM members WHERE member_id = $1 FOR UPDATE;

-- name: UpdateMemberProfile :one
UPDATE members
SET display_name = @display_name, birthday_month = sqlc.narg(birthday_month), birthday_day = sqlc.narg(birthday_day),
    birthday_year = sqlc.narg(birthday_year), channel = @channel, attributes = @attributes
WHERE member_id = @member_id
RETURNING *;

-- name: BirthdaysOn :many
-- The members born on one of the given days (month and day), after a member id
-- (keyset pages), whose birthday entry of the year (request id
-- 'system#birthday:<year>') is not written yet.
SELECT m.member_id, m.birthday_month, m.birthday_day, m.birthday_year
FROM members m
JOIN (SELECT unnest(@months::smallint[]) AS month, unnest(@days::smallint[]) AS day) AS d
  ON m.birthday_month = d.month AND m.birthday_day = d.day
WHERE m.member_id > @after
  AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.member_id = m.member_id AND e.request_id = @request_id)
ORDER BY m.member_id
LIMIT @max_members;

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
