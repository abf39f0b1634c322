-- +goose Up

-- The events: every change, written in the transaction of the change (an outbox).
-- docs/EVENTS.md explains the order; in short:
--
-- * member_seq numbers a member's events 1, 2, 3, ... without gaps: the counter row
--   in event_member_seqs is bumped in the writing transaction, so a rollback takes
--   back the number with the event, and writers of one member queue on that row.
-- * feed_xid and id are the global position, ordered (feed_xid, id). feed_xid is the
--   writing transaction's id (pg_current_xact_id), raised to the member's previous
--   event's feed_xid when that is higher, so a member's events are in member_seq
--   order in the feed too. The feed shows only events whose feed_xid is below the
--   xmin of the reading statement's snapshot: every transaction below it has ended,
--   and every transaction still to commit has an xid, hence a feed_xid, at or above
--   it. A position a consumer was given is therefore never passed by an event that
--   commits later (the outbox trap of plain sequences).
CREATE TABLE events (
    feed_xid   xid8        NOT NULL,
    id         bigint      GENERATED ALWAYS AS IDENTITY,
    -- Random, so unique without an index: nothing looks events up by it, and a
    -- random key's index would be the dearest part of every insert.
    event_id   uuid        NOT NULL DEFAULT gen_random_uuid(),
    type       text        NOT NULL CHECK (type ~ '^[a-z_]+(\.[a-z_]+)+$'),
    occur_time timestamptz NOT NULL,
    member_id  text,
    member_seq bigint,
    data       jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (feed_xid, id),
    UNIQUE (member_id, member_seq),
    CHECK ((member_id IS NULL) = (member_seq IS NULL))
);
CREATE INDEX events_member_idx ON events (member_id, feed_xid, id) WHERE member_id IS NOT NULL;
-- For a replay from a time (events.PositionAt).
CREATE INDEX events_occur_time_idx ON events (occur_time);

-- One row per member with events: the member's last member_seq and the feed_xid of
-- its last event. Locked (by its upsert) for the rest of the writing transaction.
CREATE TABLE event_member_seqs (
    member_id     text   PRIMARY KEY,
    last_seq      bigint NOT NULL CHECK (last_seq > 0),
    last_feed_xid xid8   NOT NULL
);

-- +goose Down
DROP TABLE event_member_seqs;
DROP TABLE events;
