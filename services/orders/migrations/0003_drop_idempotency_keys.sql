-- Idempotency-Key answers now live in the platform's idempotency_requests (claimed before the work,
-- see packages/platform/src/http/idempotency.ts); the orders-only table is gone.
DROP TABLE IF EXISTS idempotency_keys;
