-- Carriers reuse tracking numbers (after a year or two, or by a bug of theirs; our sandbox derives
-- its 9-digit serials from a hash and so repeats one now and then): a repeat must not stop an
-- order's shipment from being recorded. It was a unique constraint; the order (order_id UNIQUE) is
-- what a shipment is one of. Looking a shipment up by carrier and tracking number stays indexed.
ALTER TABLE shipments DROP CONSTRAINT shipments_carrier_tracking_number_key;
CREATE INDEX shipments_carrier_tracking_number ON shipments (carrier, tracking_number);
