-- Every read of a person's attributes by an operator, with the reason
-- stated: the audit log's entry names the read by its id, and the reason
-- (free text, possibly personal) stays here, inside identity.
CREATE TABLE attribute_reads (
    id TEXT PRIMARY KEY,
    person_key TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    records BIGINT NOT NULL,
    at_us BIGINT NOT NULL
);
CREATE INDEX attribute_reads_person ON attribute_reads (person_key, at_us);
