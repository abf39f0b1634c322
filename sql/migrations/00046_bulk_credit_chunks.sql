-- +goose Up
-- A bulk credit's chunks run several at a time (docs/BULK.md): each committed
-- chunk is a row of its own, a fixed range of the bulk credit's members
-- [from_seq, to_seq) on the grid of its chunk_size, claimed (inserted) in the
-- chunk's transaction with its entries and failures, so two runs of the same
-- chunk cannot both commit (the primary key), and chunks do not wait for each
-- other on the bulk credit's row. The progress (done, failed, points) is the sum
-- over the chunk rows; next_seq is gone: what is left is the seqs no chunk row
-- covers.
CREATE TABLE bulk_credit_chunks (
    bulk_credit_id bigint      NOT NULL REFERENCES bulk_credits,
    from_seq       bigint      NOT NULL CHECK (from_seq >= 0),
    to_seq         bigint      NOT NULL,
    done           bigint      NOT NULL DEFAULT 0,
    failed         bigint      NOT NULL DEFAULT 0,
    points         bigint      NOT NULL DEFAULT 0,
    commit_time    timestamptz NOT NULL,
    PRIMARY KEY (bulk_credit_id, from_seq),
    CHECK (to_seq > from_seq)
);

-- The chunk grid of a bulk credit: fixed when it is created, so every run cuts
-- the same chunks whatever its --bulk-chunk.
ALTER TABLE bulk_credits ADD COLUMN chunk_size bigint NOT NULL DEFAULT 5000 CHECK (chunk_size > 0);
ALTER TABLE bulk_credits ALTER COLUMN chunk_size DROP DEFAULT;

-- The progress so far of every bulk credit, one chunk row covering what its
-- chunks did (a prefix: they ran in seq order).
INSERT INTO bulk_credit_chunks (bulk_credit_id, from_seq, to_seq, done, failed, points, commit_time)
SELECT bulk_credit_id, 0, next_seq, done, failed, points_credited, update_time FROM bulk_credits WHERE next_seq > 0;

ALTER TABLE bulk_credits DROP COLUMN next_seq, DROP COLUMN done, DROP COLUMN failed, DROP COLUMN points_credited;

-- +goose Down
ALTER TABLE bulk_credits ADD COLUMN next_seq bigint NOT NULL DEFAULT 0, ADD COLUMN done bigint NOT NULL DEFAULT 0,
    ADD COLUMN failed bigint NOT NULL DEFAULT 0, ADD COLUMN points_credited bigint NOT NULL DEFAULT 0;
-- The covered prefix only (a chunk is in it when the chunks up to it cover every
-- seq up to its end): the older code runs the rest again from there, and finds
-- the entries of a chunk committed past a gap (unique per member and request id).
UPDATE bulk_credits b
SET done = c.done, failed = c.failed, points_credited = c.points, next_seq = c.next_seq
FROM (SELECT bulk_credit_id, max(to_seq) AS next_seq, sum(done) AS done, sum(failed) AS failed, sum(points) AS points
      FROM (SELECT *, sum(to_seq - from_seq) OVER (PARTITION BY bulk_credit_id ORDER BY from_seq) AS covered
            FROM bulk_credit_chunks) x
      WHERE to_seq = covered GROUP BY bulk_credit_id) c
WHERE b.bulk_credit_id = c.bulk_credit_id;
ALTER TABLE bulk_credits DROP COLUMN chunk_size;
DROP TABLE bulk_credit_chunks;
