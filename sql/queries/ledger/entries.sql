-- name: EntryByRequest :one
SELECT * FROM entries WHERE member_id = $1 AND request_id = $2;

-- name: GetEntry :one
SELECT * FROM entries WHERE entry_id = $1;

-- name: GetMemberBalance :one
SELECT * FROM member_balances WHERE member_id = $1;

-- name: MemberBalanceAsOf :one
-- The running balances of the member's last entry at or before the instant.
SELECT available_after, pending_after, held_after
FROM entries
WHERE member_id = @member_id AND create_time <= @as_of
ORDER BY entry_id DESC
LIMIT 1;

-- name: ListMemberEntries :many
-- Newest first, keyset-paginated by entry id.
SELECT * FROM entries
WHERE member_id = @member_id
  AND entry_id < @before_entry_id
  AND (cardinality(@kinds::text[]) = 0 OR kind = ANY (@kinds::text[]))
  AND (sqlc.narg(start_time)::timestamptz IS NULL OR create_time >= sqlc.narg(start_time))
  AND (sqlc.narg(end_time)::timestamptz IS NULL OR create_time < sqlc.narg(end_time))
ORDER BY entry_id DESC
LIMIT @page_size;

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
