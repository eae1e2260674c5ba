-- Whether the platform trusts a record's link to its person. A record whose
-- link awaits clerical review ('in_review': linked by name, birth date and
-- sex alone while carrying a number the person never had, or by a number
-- while its name, birth date or sex disagree) binds no match token, and
-- identification and the probabilistic pass ignore it, until a reviewer
-- accepts it.
ALTER TABLE attribute_records ADD COLUMN link_state TEXT NOT NULL DEFAULT 'linked'
    CHECK (link_state IN ('linked', 'in_review'));

-- Links queued before this column existed are not trusted either.
UPDATE attribute_records SET link_state = 'in_review'
    WHERE id IN (SELECT record_id FROM review_queue WHERE state = 'open' AND reason = 'name_birth_sex_only');
