-- The ledger's jobs (releasing pending earnings, expiring lots) on the write path:
-- what is due is found without a lock, and the batch locks it after its members.

-- name: DueReleases :many
-- Pending earnings whose return window is over, found without a lock: the release
-- batch locks each after its member and skips those settled meanwhile.
SELECT entry_id, member_id FROM pending_releases
WHERE NOT released AND release_time <= @now
ORDER BY release_time
LIMIT @max_releases;

-- name: LockPendingReleasesOf :batchmany
-- read: the pending earnings the batch releases, locked after their members (as a
-- refund's batch locks them, after the member and the order).
SELECT * FROM pending_releases
WHERE entry_id = ANY (@entry_ids::bigint[])
ORDER BY entry_id
FOR UPDATE;

-- name: WriteReleased :batchexec
-- write: the pending earnings the batch released.
UPDATE pending_releases SET released = true WHERE entry_id = ANY (@entry_ids::bigint[]);
