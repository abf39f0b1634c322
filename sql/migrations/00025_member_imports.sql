-- +goose Up

-- Members imported from another system (POST /v1/imports, docs/IMPORT_EXPORT.md):
-- one row per member, with the fingerprint of the CSV row that imported it and its
-- OPENING entry (none when it opened at zero). Written with the member's opening
-- under the member's lock: importing the same file again finds every row here and
-- changes nothing; a row with other values for a member imported before is refused.
CREATE TABLE member_imports (
    member_id   text        PRIMARY KEY REFERENCES members (member_id),
    fingerprint bytea       NOT NULL,
    entry_id    bigint,
    create_time timestamptz NOT NULL
);

-- +goose Down
DROP TABLE member_imports;
