-- The relay deletes the rows it sent instead of marking them published (ADR 0012, session 6):
-- what a service sent is kept by the broker, and a table of sent rows made every relay read walk
-- them until a VACUUM. Rows an earlier relay marked are sent already.
DELETE FROM outbox WHERE published_at IS NOT NULL;
DROP INDEX outbox_unpublished;
ALTER TABLE outbox DROP COLUMN published_at;
