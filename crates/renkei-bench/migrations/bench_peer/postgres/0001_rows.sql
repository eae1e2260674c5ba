-- The benchmark's peer: the same rows as audit entries, inserted one
-- transaction each, with no Merkle tree.
CREATE TABLE rows (idx BIGINT PRIMARY KEY, at_us BIGINT NOT NULL, data BYTEA NOT NULL, leaf_hash BYTEA NOT NULL);
