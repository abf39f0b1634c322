-- +goose Up

-- Member ids follow validation.ShopID: no ':' (REST paths use it for custom verbs,
-- /v1/members/{id}:earn) and not only dots ("." and ".." are path segments of their
-- own in a URL). NOT VALID: the rule holds for every new or updated row, while
-- members enrolled under the old rule keep their ids.
ALTER TABLE members DROP CONSTRAINT members_member_id_check;
ALTER TABLE members ADD CONSTRAINT members_member_id_check
    CHECK (member_id ~ '^[A-Za-z0-9._-]{1,64}$' AND member_id !~ '^\.+$') NOT VALID;

-- +goose Down
ALTER TABLE members DROP CONSTRAINT members_member_id_check;
ALTER TABLE members ADD CONSTRAINT members_member_id_check
    CHECK (member_id ~ '^[A-Za-z0-9._:-]{1,64}$') NOT VALID;
