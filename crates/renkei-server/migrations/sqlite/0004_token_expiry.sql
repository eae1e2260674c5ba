-- When an API token stops working, so that a token forgotten in a script or
-- a leaked CI log does not live for ever. NULL: made before tokens expired.
ALTER TABLE api_tokens ADD COLUMN expires_us BIGINT;
