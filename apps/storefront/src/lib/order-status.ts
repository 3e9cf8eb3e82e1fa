import type { OrderStatus } from '@emporium/contracts';

/** Each status in a shopper's words, and whether it is good news, waiting, or bad news. */
export const STATUS: Record<OrderStatus, { label: string; tone: 'wait' | 'good' | 'bad' }> = {
  placed: { label: 'Order received', tone: 'wait' },
  awaiting_payment: { label: 'Waiting for payment', tone: 'wait' },
  payment_pending: { label: 'Checking payment', tone: 'wait' },
  confirmed: { label: 'Confirmed', tone: 'good' },
  fulfilling: { label: 'Shipped — payment being completed', tone: 'good' },
  completed: { label: 'Completed', tone: 'good' },
  rejected: { label: 'Not available — order rejected', tone: 'bad' },
  payment_failed: { label: 'Payment failed', tone: 'bad' },
  cancelled: { label: 'Cancelled', tone: 'bad' },
};

export const statusLabel = (status: OrderStatus): string => STATUS[status]?.label ?? status;
