-- +goose Up

-- Incremental verify (docs/LEDGER.md): what a verify that found the books right
-- proved, up to which position, with the sums at that point, so that the next one
-- checks only what came after. Entries are immutable, so what was proved of them
-- stays proved; a full audit (Verify with Full) still reads everything.
CREATE TABLE verify_checkpoints (
    checkpoint_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Every entry, lot and metric move up to these ids was verified (ids are
    -- taken after the write path's member locks, so once the writers that held an
    -- id up to them have ended, none can appear below them).
    entry_id      bigint      NOT NULL,
    lot_id        bigint      NOT NULL,
    move_id       bigint      NOT NULL,
    entries       bigint      NOT NULL, -- entries up to entry_id
    postings_sum  bigint      NOT NULL, -- of all postings up to entry_id
    -- The sum of the postings up to entry_id of each system account.
    system_sums   jsonb       NOT NULL,
    full_audit    boolean     NOT NULL,
    create_time   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX verify_checkpoints_position_idx ON verify_checkpoints (entry_id DESC, checkpoint_id DESC);

-- An incremental verify sums the moves of the lots and the metric days that moved
-- since the checkpoint: one index range each.
CREATE INDEX lot_moves_lot_idx ON lot_moves (lot_id);
CREATE INDEX tier_metric_moves_day_idx ON tier_metric_moves (member_id, day);

-- +goose Down
DROP INDEX tier_metric_moves_day_idx;
DROP INDEX lot_moves_lot_idx;
DROP TABLE verify_checkpoints;
