-- Idempotency-Key answers now live in the platform's idempotency_requests (claimed before the work,
-- see packages/platform/src/http/idempotency.ts); the inventory-only table is gone.
DROP TABLE IF EXISTS stock_update_requests;
