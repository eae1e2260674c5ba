-- Which persons each output's interior cells count (a 64-bit digest of
-- the pseudonym and the cell, see disclosure::Membership), so that a
-- release is compared with earlier ones by the persons in its cells, not
-- by the names of its dimensions. Never leaves the platform. NULL for
-- outputs requested before persons were kept: those are compared by keys.
ALTER TABLE outputs ADD COLUMN members BYTEA;
