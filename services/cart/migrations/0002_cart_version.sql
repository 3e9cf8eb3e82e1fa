-- Bumped by every change to a cart, in the transaction that changes its lines: a change made
-- without a lock (read, then write) lands only if the version is still the one it read.
ALTER TABLE carts ADD COLUMN version integer NOT NULL DEFAULT 0;
