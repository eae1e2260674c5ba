-- The audit log (renkei-audit). Rows are only ever inserted: an entry or a
-- head that changes after the fact is what verification detects.

-- One row per leaf of the Merkle tree; idx is the RFC 9162 leaf index.
CREATE TABLE entries (
    idx BIGINT PRIMARY KEY CHECK (idx >= 0),
    -- When the audited event happened (microseconds since the Unix epoch).
    at_us BIGINT NOT NULL,
    -- The canonical serialized entry (serde_json of renkei_core::AuditEvent).
    data BYTEA NOT NULL,
    -- SHA-256(0x00 || data), RFC 9162 §2.1.1.
    leaf_hash BYTEA NOT NULL CHECK (octet_length(leaf_hash) = 32)
);

-- One signed tree head per batch boundary.
CREATE TABLE signed_heads (
    tree_size BIGINT PRIMARY KEY CHECK (tree_size >= 0),
    timestamp_us BIGINT NOT NULL,
    root_hash BYTEA NOT NULL CHECK (octet_length(root_hash) = 32),
    signature BYTEA NOT NULL CHECK (octet_length(signature) = 64),
    -- SHA-256 of the Ed25519 public key, hex.
    key_id TEXT NOT NULL
);
