-- +goose Up

-- The currencies a program earns in. A spend in any other currency is refused, so a
-- shop selling in one currency never earns points on an amount in another (or on
-- an amount with no currency at all). Programs that named one currency keep it;
-- those that named none (any currency was accepted) now earn in CNY, the default.
ALTER TABLE program_settings
    ADD COLUMN currencies text[] NOT NULL DEFAULT '{CNY}'
        CONSTRAINT program_settings_currencies_listed CHECK (cardinality(currencies) BETWEEN 1 AND 20);
UPDATE program_settings SET currencies = ARRAY[currency] WHERE currency <> '';
ALTER TABLE program_settings DROP COLUMN currency;

-- +goose Down
ALTER TABLE program_settings ADD COLUMN currency text NOT NULL DEFAULT '';
UPDATE program_settings SET currency = currencies[1] WHERE cardinality(currencies) = 1;
ALTER TABLE program_settings DROP COLUMN currencies;
