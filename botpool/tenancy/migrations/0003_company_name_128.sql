-- Company names are 1-128 characters (botpool.tenancy.spec checks this, after trimming, before
-- anything is stored; the constraint keeps every other writer to the same bound).
-- Rows written under the old bound of 200 are shortened first so the constraint holds for all rows.
UPDATE tenants SET company_name = left(company_name, 128) WHERE char_length(company_name) > 128;
ALTER TABLE tenants DROP CONSTRAINT IF EXISTS tenants_company_name_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_company_name_check CHECK (char_length(company_name) BETWEEN 1 AND 128);
