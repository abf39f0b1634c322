-- +goose Up

-- Points earned on an order stay pending through the program's return window. Each
-- pending earning has a row here until a job releases it to available (an entry).
CREATE TABLE pending_releases (
    entry_id     bigint      PRIMARY KEY REFERENCES entries (entry_id),
    member_id    text        NOT NULL,
    order_id     text        NOT NULL,
    points       bigint      NOT NULL CHECK (points > 0),
    release_time timestamptz NOT NULL,
    released     boolean     NOT NULL DEFAULT false
);
CREATE INDEX pending_releases_due_idx ON pending_releases (release_time) WHERE NOT released;
CREATE INDEX pending_releases_member_idx ON pending_releases (member_id) WHERE NOT released;

-- +goose Down
DROP TABLE pending_releases;
