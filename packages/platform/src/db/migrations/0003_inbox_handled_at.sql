-- Lets the inbox be pruned oldest first (see pruneInbox): rows go once the bus can no longer
-- deliver their event again.
CREATE INDEX inbox_by_handled_at ON inbox (handled_at);
