-- name: EnrollBatchMembers :batchmany
-- read step of an import batch, first after BEGIN: the batch's new members,
-- inserted in member order (two imports of the same members wait for each other
-- in one order, never in a cycle); members that exist are left as they are.
-- Returns the members it created, whose balance rows the write step inserts with
-- the balances the batch leaves them (WriteNewBalances): inserting them at zero
-- here and updating them there would write each row twice and check its foreign
-- key twice.
INSERT INTO members (member_id, display_name, join_time)
SELECT u.member_id, u.display_name, u.join_time
FROM (SELECT unnest(@member_ids::text[]) AS member_id,
             unnest(@display_names::text[]) AS display_name,
             unnest(@join_times::timestamptz[]) AS join_time) AS u
ORDER BY u.member_id
ON CONFLICT (member_id) DO NOTHING
RETURNING members.member_id, members.display_name, members.join_time;

-- name: WriteNewBalances :batchexec
-- write: the balance rows of the members the batch's import created, as the batch
-- leaves them (in member order); a member opened at zero has no entry, and no
-- last entry time (Go's zero time).
INSERT INTO member_balances (member_id, available, pending, held, last_entry_time)
SELECT u.member_id, u.available, u.pending, u.held, nullif(u.last_entry_time, '0001-01-01 00:00:00+00')
FROM (SELECT unnest(@member_ids::text[]) AS member_id,
             unnest(@available::bigint[]) AS available,
             unnest(@pending::bigint[]) AS pending,
             unnest(@held::bigint[]) AS held,
             unnest(@last_entry_times::timestamptz[]) AS last_entry_time) AS u
ORDER BY u.member_id;

-- name: ImportsOf :batchmany
-- read: which of the batch's members were imported before, and from what row
-- (under the members' locks).
SELECT member_id, fingerprint FROM member_imports WHERE member_id = ANY (@member_ids::text[]);

-- name: WriteImports :batchexec
-- write: the batch's imported members.
INSERT INTO member_imports (member_id, fingerprint, entry_id, create_time)
SELECT u.member_id, u.fingerprint, nullif(u.entry_id, 0), u.create_time
FROM (SELECT unnest(@member_ids::text[]) AS member_id,
             unnest(@fingerprints::bytea[]) AS fingerprint,
             unnest(@entry_ids::bigint[]) AS entry_id,
             unnest(@create_times::timestamptz[]) AS create_time) AS u;

-- name: ImportFingerprints :many
-- A dry run's view of which members were imported before (no lock: it writes nothing).
SELECT member_id, fingerprint FROM member_imports WHERE member_id = ANY (@member_ids::text[]);
