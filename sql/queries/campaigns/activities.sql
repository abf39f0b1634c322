-- Activities in the ledger's batch (campaigns/activity_batch.go): read under the
-- members' row locks, written with the batch's writes (every activity of a member
-- is written under that lock).

-- name: ActivitiesOf :batchmany
-- read: the activities recorded for the claims, by (member, request id) or by
-- (member, type, activity key) when the claim has a key.
SELECT a.* FROM activities a
JOIN (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@request_ids::text[]) AS request_id,
             unnest(@activity_types::text[]) AS activity_type, unnest(@activity_keys::text[]) AS activity_key) AS k
    ON a.member_id = k.member_id
   AND (a.request_id = k.request_id OR (k.activity_key <> '' AND a.activity_type = k.activity_type AND a.activity_key = k.activity_key));

-- name: ActivityGrantsOf :batchmany
-- read: what the campaigns granted the claims' members since the start of the
-- earliest cap period of each claim, and for the claim's activity key whenever.
SELECT g.member_id, g.campaign_id, g.activity_type, g.activity_key, g.occur_time, g.points, g.entry_id
FROM activity_grants g
JOIN (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@sinces::timestamptz[]) AS since,
             unnest(@activity_keys::text[]) AS activity_key) AS k
    ON g.member_id = k.member_id
   AND (g.occur_time >= k.since OR (k.activity_key <> '' AND g.activity_key = k.activity_key));

-- name: WriteActivities :batchexec
-- write: the activities the batch recorded.
INSERT INTO activities (member_id, request_id, activity_type, activity_key, fingerprint, occur_time, outcome, actor_key_id, create_time)
SELECT * FROM (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@request_ids::text[]) AS request_id,
            unnest(@activity_types::text[]) AS activity_type, unnest(@activity_keys::text[]) AS activity_key,
            unnest(@fingerprints::bytea[]) AS fingerprint, unnest(@occur_times::timestamptz[]) AS occur_time,
            unnest(@outcomes::jsonb[]) AS outcome, unnest(@actor_key_ids::text[]) AS actor_key_id,
            unnest(@create_times::timestamptz[]) AS create_time) AS u;

-- name: WriteActivityGrants :batchexec
-- write: what the batch's activities were granted, for the caps.
INSERT INTO activity_grants (member_id, campaign_id, activity_type, activity_key, occur_time, points, entry_id)
SELECT * FROM (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@campaign_ids::text[]) AS campaign_id,
            unnest(@activity_types::text[]) AS activity_type, unnest(@activity_keys::text[]) AS activity_key,
            unnest(@occur_times::timestamptz[]) AS occur_time, unnest(@points::bigint[]) AS points,
            unnest(@entry_ids::bigint[]) AS entry_id) AS u;

-- name: ListActivityTypes :many
SELECT * FROM activity_types ORDER BY activity_type;

-- name: InsertActivityType :one
-- Returns no row when the type exists already.
INSERT INTO activity_types (activity_type, description, create_time) VALUES (@activity_type, @description, @now)
ON CONFLICT (activity_type) DO NOTHING
RETURNING *;

-- name: ActivityGrantsOfMember :many
-- What an ACTIVITY_REWARD campaign granted a member since an instant or for an
-- activity key (the dry run counts them against the caps).
SELECT member_id, campaign_id, activity_type, activity_key, occur_time, points, entry_id
FROM activity_grants
WHERE member_id = @member_id AND campaign_id = @campaign_id
  AND (occur_time >= @since OR (@activity_key::text <> '' AND activity_key = @activity_key::text));
