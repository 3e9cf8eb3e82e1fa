import { event, type PendingEvent } from '@emporium/platform';

/** The fact cart needs to hand a guest's cart to the customer (`guestId` null: nothing to merge). */
export const customerSignedIn = (customerId: string, guestId: string | null, via: 'sign_up' | 'sign_in'): PendingEvent =>
  event('customer_signed_in', customerId, { customerId, guestId, via });
