-- +goose Up
-- A member's entries are in time order by id (the business clock migration:
-- every entry is stamped no earlier than the member's last one), so
-- entries_member_time_idx (member_id, create_time, entry_id) orders a member's
-- entries as entries_member_idx (member_id, entry_id DESC) did. Every entry
-- written paid for a leaf search in both; the readers that walked the member's
-- entries by id (verify's previous and last entry, a member's statement export)
-- now walk them by (create_time, entry_id), and verify checks the order itself.
DROP INDEX entries_member_idx;

-- +goose Down
CREATE INDEX entries_member_idx ON entries (member_id, entry_id DESC);
