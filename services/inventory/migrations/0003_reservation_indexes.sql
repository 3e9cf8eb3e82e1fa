-- Without table statistics (a server with autovacuum off never analyzes) the planner answered
-- "this order's active reservations" by ANDing the primary key with a partial index on
-- status = 'active' (reservations_product, or reservations_due, which held paid reservations too):
-- every active reservation of the shop was read to find one order's. reservations_product served no
-- hot query (the reconciliation's sum over active reservations scans the table) and goes;
-- reservations_due keeps only what can expire (unpaid), which the expiry sweep's
-- `expires_at <= now()` implies, and which the per-order lookups cannot use.
DROP INDEX IF EXISTS reservations_product;
DROP INDEX IF EXISTS reservations_due;
CREATE INDEX reservations_due ON reservations (expires_at) WHERE status = 'active' AND expires_at IS NOT NULL;
