-- +goose Up

-- History at any length (docs/SCALING.md). A member's entries are in time order by
-- entry id (docs/LEDGER.md), so one index on (member, time, id) serves both reads
-- that used to walk the member's entries backwards from the newest:
--  - the balance as of an instant is the first row of it at or before the instant,
--    its running balances read from the index (INCLUDE: an index-only scan);
--  - a statement page filtered by time starts at min(end, the page token's entry)
--    and stops after a page, whatever the member's history length.
CREATE INDEX entries_member_time_idx ON entries (member_id, create_time, entry_id)
    INCLUDE (available_after, pending_after, held_after);

-- A statement filtered by kinds reads one such range per kind and merges them: a
-- rare kind costs a page, not a scan of the member's other entries.
CREATE INDEX entries_member_kind_time_idx ON entries (member_id, kind, create_time, entry_id);

-- +goose Down
DROP INDEX entries_member_kind_time_idx;
DROP INDEX entries_member_time_idx;
