import { formatMoney } from '../lib/money';

export function Price({ amount, currency }: { amount: number; currency: string }) {
  return <span className="price">{formatMoney(amount, currency)}</span>;
}
