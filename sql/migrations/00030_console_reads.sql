-- +goose Up
-- The console's reads of a campaign's days (GetCampaignStats): the entries that
-- touch a campaign's account, and a campaign's coupons, found without a scan.
-- Only entries with a campaign account are in entries_campaign_idx (a partial
-- index), so the write path of every other entry pays one function call, not an
-- index insert.

-- +goose StatementBegin
CREATE FUNCTION entry_campaign_accounts(accounts text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(a), '{}') FROM unnest(accounts) AS a WHERE a LIKE 'system:campaign:%'
$$;
-- +goose StatementEnd

CREATE INDEX entries_campaign_idx ON entries USING gin (entry_campaign_accounts(accounts))
    WHERE entry_campaign_accounts(accounts) <> '{}';
CREATE INDEX coupons_campaign_issue_idx ON coupons (campaign_id, issue_time);

-- +goose Down
DROP INDEX coupons_campaign_issue_idx;
DROP INDEX entries_campaign_idx;
DROP FUNCTION entry_campaign_accounts(text[]);
