-- The differential-privacy budget each permit has spent on noisy
-- releases (ε in millionths), written in the same transaction as the
-- release that spends it.
CREATE TABLE dp_spent (
    permit_id TEXT PRIMARY KEY,
    spent_micros BIGINT NOT NULL
);
