-- name: EntryByRequest :one
SELECT * FROM entries WHERE member_id = $1 AND request_id = $2;

-- name: GetEntry :one
SELECT * FROM entries WHERE entry_id = $1;

-- name: GetMemberBalance :one
SELECT * FROM member_balances WHERE member_id = $1;

-- name: MemberBalanceAsOf :one
-- The running balances of the member's last entry at or before the instant: one
-- probe of entries_member_time_idx (a member's entries are in time order by id).
SELECT available_after, pending_after, held_after
FROM entries
WHERE member_id = @member_id AND create_time <= @as_of
ORDER BY create_time DESC, entry_id DESC
LIMIT 1;

-- name: ListMemberEntries :many
-- Newest first, keyset-paginated by entry id, read as a range of
-- entries_member_time_idx: the page starts below (upper_time, upper_id) (the
-- earlier of the page token's entry and the end of the time range) and stops
-- after a page, however long the member's history. Time order and id order agree
-- within a member, so this is the statement's id order.
SELECT * FROM entries
WHERE member_id = @member_id
  AND (create_time, entry_id) < (@upper_time::timestamptz, @upper_id::bigint)
  AND create_time >= @start_time::timestamptz
ORDER BY create_time DESC, entry_id DESC
LIMIT @page_size;

-- name: ListMemberEntriesOfKinds :many
-- ListMemberEntries filtered by kinds: one range of entries_member_kind_time_idx
-- per kind, merged, so a rare kind costs a page and not a scan of the others.
SELECT e.* FROM unnest(@kinds::text[]) AS k (kind)
CROSS JOIN LATERAL (
    SELECT * FROM entries x
    WHERE x.member_id = @member_id AND x.kind = k.kind
      AND (x.create_time, x.entry_id) < (@upper_time::timestamptz, @upper_id::bigint)
      AND x.create_time >= @start_time::timestamptz
    ORDER BY x.create_time DESC, x.entry_id DESC
    LIMIT @page_size
) AS e
ORDER BY e.create_time DESC, e.entry_id DESC
LIMIT @page_size;

-- name: EntryTimeOf :one
-- The time of a member's entry (a page token's position).
SELECT create_time FROM entries WHERE entry_id = @entry_id AND member_id = @member_id;

-- name: RollUpSystemDeltas :exec
-- Folds queued system postings into system_balances. Rows are deleted and added in
-- one statement, so concurrent roll-ups (several replicas) never count one twice.
WITH d AS (
    DELETE FROM system_deltas RETURNING account, amount
), s AS (
    SELECT account, sum(amount)::bigint AS total FROM d GROUP BY account
)
INSERT INTO system_balances (account, balance)
SELECT account, total FROM s
ON CONFLICT (account) DO UPDATE SET balance = system_balances.balance + excluded.balance;

-- name: SystemBalances :many
-- Rolled-up balance plus what is still queued, per system account.
SELECT account, sum(amount)::bigint AS balance
FROM (
    SELECT account, balance AS amount FROM system_balances
    UNION ALL
    SELECT account, amount FROM system_deltas
) AS x
GROUP BY account
ORDER BY account;

-- name: GetPendingRelease :one
SELECT * FROM pending_releases WHERE entry_id = $1;

-- name: CampaignAccountDays :many
-- What a campaign's account paid out (less what it got back) and how many payouts,
-- by day in a time zone; the entries are found by entries_campaign_idx. An entry
-- posts to a campaign's account once.
SELECT d.day, (-sum(d.amount))::bigint AS points, (count(*) FILTER (WHERE d.amount < 0))::bigint AS grants
FROM (
    SELECT (e.create_time AT TIME ZONE sqlc.arg(time_zone)::text)::date AS day,
           e.amounts[array_position(e.accounts, sqlc.arg(account)::text)] AS amount
    FROM entries e
    WHERE entry_campaign_accounts(e.accounts) <> '{}'
      AND entry_campaign_accounts(e.accounts) @> ARRAY[sqlc.arg(account)::text]
) AS d
GROUP BY d.day
ORDER BY d.day;
