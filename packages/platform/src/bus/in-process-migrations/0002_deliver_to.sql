-- The groups a message is for (ADR 0013): a routed subscription skips the others' messages without
-- handing them to its handler, and is woken only by its own. NULL: every group reading the topic
-- (messages published without naming their consumers, and every message from before this column).
ALTER TABLE messages ADD COLUMN deliver_to text[];
