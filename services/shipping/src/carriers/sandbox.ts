import { createHash } from 'node:crypto';
import type { Carrier } from './carrier';

export const SANDBOX_CARRIER_CODE = 'sandbox-post';

/** `EP`, nine serial digits, a Luhn check digit, `NL`: e.g. `EP1234567897NL`. */
export const SANDBOX_TRACKING_NUMBER = /^EP\d{10}NL$/;

/** Nine digits derived from the shipment id, plus a Luhn check digit. */
export function sandboxTrackingNumber(shipmentId: string): string {
  const digest = createHash('sha256').update(shipmentId).digest();
  const serial = (digest.readBigUInt64BE(0) % 1_000_000_000n).toString().padStart(9, '0');
  return `EP${serial}${luhnCheckDigit(serial)}NL`;
}

export function luhnCheckDigit(digits: string): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    // Doubling starts at the rightmost digit, since the check digit will follow it.
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/**
 * "Emporium Post": a carrier that lives in the process. Bookings are deterministic (the same
 * shipment id always gets the same tracking number), so repeating a call is harmless.
 */
export function createSandboxCarrier(): Carrier {
  return {
    code: SANDBOX_CARRIER_CODE,
    name: 'Emporium Post',
    async createShipment({ shipmentId }) {
      return { carrier: SANDBOX_CARRIER_CODE, trackingNumber: sandboxTrackingNumber(shipmentId) };
    },
    async cancelShipment({ trackingNumber }) {
      if (!SANDBOX_TRACKING_NUMBER.test(trackingNumber)) {
        throw new Error(`Emporium Post does not know tracking number ${trackingNumber}`);
      }
    },
  };
}
