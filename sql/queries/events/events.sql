-- name: AppendEvents :exec
-- Writes a batch of events in one statement, in the order given (ord): each
-- member's counter row is bumped once by the number of its events (in member order,
-- so that two writers of several members lock them in the same order) and its new
-- last_seq numbers the member's events of this statement, by row order, without a
-- gap. An event's feed_xid is this transaction's id, or its member's previous
-- event's when that is higher (docs/EVENTS.md: why). Rows are inserted in ord
-- order, so that id, the tiebreaker of the feed, follows it. The event ids come
-- with the events (drawn by the writer in Go): the column's default,
-- gen_random_uuid(), costs several microseconds an event in PostgreSQL.
WITH input AS (
    SELECT t.event_id::uuid AS event_id, t.type, t.occur_time, nullif(t.member_id, '') AS member_id, t.data::jsonb AS data, t.ord
    FROM (
        -- Set-returning functions in one select list run in lockstep: row n of each.
        SELECT unnest(@event_ids::text[]) AS event_id, unnest(@types::text[]) AS type, unnest(@occur_times::timestamptz[]) AS occur_time,
               unnest(@member_ids::text[]) AS member_id, unnest(@datas::text[]) AS data,
               generate_subscripts(@types::text[], 1) AS ord
    ) AS t
), counts AS (
    SELECT i.member_id, count(*)::bigint AS n FROM input i WHERE i.member_id IS NOT NULL GROUP BY i.member_id
), bumped AS (
    INSERT INTO event_member_seqs AS s (member_id, last_seq, last_feed_xid)
    SELECT c.member_id, c.n, pg_current_xact_id() FROM counts c ORDER BY c.member_id
    ON CONFLICT (member_id) DO UPDATE
        SET last_seq = s.last_seq + excluded.last_seq,
            last_feed_xid = greatest(s.last_feed_xid, excluded.last_feed_xid)
    RETURNING s.member_id, s.last_seq, s.last_feed_xid
)
INSERT INTO events (feed_xid, event_id, type, occur_time, member_id, member_seq, data)
SELECT coalesce(b.last_feed_xid, pg_current_xact_id()), i.event_id, i.type, i.occur_time, i.member_id,
       b.last_seq - c.n + row_number() OVER (PARTITION BY i.member_id ORDER BY i.ord), i.data
FROM input i
LEFT JOIN counts c ON c.member_id = i.member_id
LEFT JOIN bumped b ON b.member_id = i.member_id
ORDER BY i.ord;

-- name: ListEvents :many
-- A page of the feed after a position: only events every transaction below whose
-- feed_xid has ended (the statement's snapshot xmin), so that nothing still to
-- commit can fall behind a position handed out. Filters never change the order.
SELECT e.feed_xid::text AS feed_xid, e.id, e.event_id::text AS event_id, e.type, e.occur_time,
       coalesce(e.member_id, '')::text AS member_id, coalesce(e.member_seq, 0)::bigint AS member_seq, e.data
FROM events e
WHERE e.feed_xid < pg_snapshot_xmin(pg_current_snapshot())
  AND (e.feed_xid, e.id) > (sqlc.arg(after_xid)::text::xid8, sqlc.arg(after_id)::bigint)
  AND (cardinality(sqlc.arg(types)::text[]) = 0 OR e.type = ANY (sqlc.arg(types)::text[]))
ORDER BY e.feed_xid, e.id
LIMIT sqlc.arg(page_size);

-- name: ListMemberEvents :many
-- ListEvents of one member (a query of its own, so that its plan uses the member's
-- index whatever the parameters).
SELECT e.feed_xid::text AS feed_xid, e.id, e.event_id::text AS event_id, e.type, e.occur_time,
       coalesce(e.member_id, '')::text AS member_id, coalesce(e.member_seq, 0)::bigint AS member_seq, e.data
FROM events e
WHERE e.member_id = sqlc.arg(member_id)::text
  AND e.feed_xid < pg_snapshot_xmin(pg_current_snapshot())
  AND (e.feed_xid, e.id) > (sqlc.arg(after_xid)::text::xid8, sqlc.arg(after_id)::bigint)
  AND (cardinality(sqlc.arg(types)::text[]) = 0 OR e.type = ANY (sqlc.arg(types)::text[]))
ORDER BY e.feed_xid, e.id
LIMIT sqlc.arg(page_size);

-- name: PositionBefore :one
-- The position just before the first event (in feed order) that occurred at or
-- after a time: where a replay "from a time" starts. Only among the events the feed
-- shows: a position past them could pass one that commits later. Events are in feed order, not
-- occur_time order, so an event written late with an earlier occur_time that lies
-- after this position is replayed too; none before it is.
SELECT coalesce((SELECT e.feed_xid::text FROM events e WHERE e.occur_time >= sqlc.arg(since)::timestamptz AND e.feed_xid < pg_snapshot_xmin(pg_current_snapshot())
                 ORDER BY e.feed_xid, e.id LIMIT 1), '')::text AS feed_xid,
       coalesce((SELECT e.id FROM events e WHERE e.occur_time >= sqlc.arg(since)::timestamptz AND e.feed_xid < pg_snapshot_xmin(pg_current_snapshot())
                 ORDER BY e.feed_xid, e.id LIMIT 1), 0)::bigint AS id;

-- name: LastPosition :one
-- The position of the last event the feed shows: a replay from a time after every
-- event starts there.
SELECT coalesce((SELECT e.feed_xid::text FROM events e WHERE e.feed_xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY e.feed_xid DESC, e.id DESC LIMIT 1), '')::text AS feed_xid,
       coalesce((SELECT e.id FROM events e WHERE e.feed_xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY e.feed_xid DESC, e.id DESC LIMIT 1), 0)::bigint AS id;

-- name: MemberSeqs :many
-- Test and verification helper: a member's event numbers in feed order.
SELECT e.member_seq FROM events e WHERE e.member_id = sqlc.arg(member_id)::text ORDER BY e.feed_xid, e.id;
