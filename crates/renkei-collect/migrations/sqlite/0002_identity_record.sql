-- The identity attribute record each subject's person was resolved
-- through, so that the lake rows of a resource whose Patient came earlier
-- carry it too (identity's splits re-key rows by record). Null for
-- subjects recorded before this column existed.
ALTER TABLE subjects ADD COLUMN identity_record TEXT;
ALTER TABLE subjects_staged ADD COLUMN identity_record TEXT;
