-- orders_open_by_deadline served the expiry of unpaid orders by reserve_until. Since 0002 the timeout
-- sweep reads step_deadline (orders_by_step_deadline) for every waiting status, which this index's
-- predicate (placed, awaiting_payment) does not cover, so no statement can use it; each order still
-- wrote two entries into it (placed, then awaiting_payment).
DROP INDEX IF EXISTS orders_open_by_deadline;
