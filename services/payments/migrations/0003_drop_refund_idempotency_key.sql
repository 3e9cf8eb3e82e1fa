-- Refund retries are answered by the platform's Idempotency-Key handling (idempotency_requests,
-- recorded in the refund's own transaction); the payments-only column and its constraint go.
ALTER TABLE payment_transactions DROP COLUMN IF EXISTS idempotency_key;
