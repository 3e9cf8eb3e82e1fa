import { useEffect, useState, type FormEvent } from 'react';
import type { Cart, CartLine } from '@emporium/contracts';
import { ApiError, newIdempotencyKey } from '../lib/api';
import { useStore } from '../state';
import { ErrorMessage, Loading, Page } from '../components/page';
import { Price } from '../components/money';
import { ProductImage } from '../components/product-card';

const CART_REFRESH_MS = 5000;

/**
 * One cart change at a time: `busy` while it runs, the server's explanation (or `fallback`) as
 * `error` when it fails. Each form of the cart uses it for its buttons.
 */
function useCartAction() {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const run = async (work: () => Promise<void>, fallback: string) => {
    setBusy(true);
    setError(undefined);
    try {
      await work();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : fallback);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

const STATUS_TEXT: Record<CartLine['availability']['status'], string> = {
  in_stock: 'In stock',
  low_stock: 'Low stock',
  out_of_stock: 'Out of stock',
  unknown: 'Availability unknown',
};

function lineAvailability(line: CartLine): string {
  const { available, status } = line.availability;
  if (status === 'low_stock' && available !== null) return available < line.quantity ? `Only ${available} available — fewer than you want` : `Only ${available} left`;
  return STATUS_TEXT[status];
}

function CartLineRow({ line, currency, onChange }: { line: CartLine; currency: string; onChange: (cart: Cart, message: string) => void }) {
  const { api, cartPath } = useStore();
  const [quantity, setQuantity] = useState(String(line.quantity));
  const { busy, error, setError, run } = useCartAction();
  useEffect(() => setQuantity(String(line.quantity)), [line.quantity]);

  const update = async (event: FormEvent) => {
    event.preventDefault();
    const n = Number(quantity);
    if (!Number.isInteger(n) || n < 0 || n > 999) {
      setError('Enter a quantity from 0 to 999.');
      return;
    }
    await run(async () => {
      const cart = await api.request<Cart>('PUT', cartPath(`/lines/${encodeURIComponent(line.productId)}`), { body: { quantity: n } });
      onChange(cart, n === 0 ? `Removed ${line.name} from your cart.` : `${line.name}: quantity is now ${n}.`);
    }, 'Could not change the quantity.');
  };
  const remove = () =>
    run(async () => {
      const cart = await api.request<Cart>('PUT', cartPath(`/lines/${encodeURIComponent(line.productId)}`), { body: { quantity: 0 } });
      onChange(cart, `Removed ${line.name} from your cart.`);
    }, 'Could not remove the item.');
  const status = line.availability.status;
  return (
    <li className="cart-line" data-product-id={line.productId}>
      <ProductImage name={line.name} category="" />
      <div className="cart-line-main">
        <h2 className="cart-line-name">
          <a href={`#/product/${encodeURIComponent(line.productId)}`}>{line.name}</a>
        </h2>
        <p className="muted small">
          <Price amount={line.unitPrice} currency={currency} /> each
        </p>
        <p className={`stock small stock-${status === 'in_stock' ? 'ok' : status === 'low_stock' ? 'low' : status === 'out_of_stock' ? 'out' : 'unknown'}`}>{lineAvailability(line)}</p>
        {!line.active && <p className="error small">No longer sold: you can reduce or remove this line.</p>}
      </div>
      <form className="qty-form" onSubmit={(e) => void update(e)} noValidate>
        <label htmlFor={`qty-${line.productId}`}>Quantity of {line.name}</label>
        <input id={`qty-${line.productId}`} type="number" inputMode="numeric" min={0} max={999} value={quantity} onChange={(e) => setQuantity(e.target.value)} aria-invalid={error ? true : undefined} aria-describedby={error ? `qty-error-${line.productId}` : undefined} />
        <button type="submit" disabled={busy}>
          Update
        </button>
        <button type="button" className="secondary" onClick={() => void remove()} disabled={busy} aria-label={`Remove ${line.name}`}>
          Remove
        </button>
        {error && (
          <span id={`qty-error-${line.productId}`} className="field-error" role="alert">
            {error}
          </span>
        )}
      </form>
      <p className="line-total">
        <Price amount={line.lineTotal} currency={currency} />
      </p>
    </li>
  );
}

export function CartSummary({ cart }: { cart: Cart }) {
  return (
    <dl className="totals">
      <div>
        <dt>Subtotal</dt>
        <dd>
          <Price amount={cart.subtotal} currency={cart.currency} />
        </dd>
      </div>
      {cart.discount && (
        <div>
          <dt>Discount ({cart.discount.code})</dt>
          <dd>
            − <Price amount={cart.discount.amount} currency={cart.currency} />
          </dd>
        </div>
      )}
      <div className="grand-total">
        <dt>Total</dt>
        <dd>
          <Price amount={cart.total} currency={cart.currency} />
        </dd>
      </div>
    </dl>
  );
}

function DiscountForm({ cart, onChange }: { cart: Cart; onChange: (cart: Cart, message: string) => void }) {
  const { api, cartPath } = useStore();
  const [code, setCode] = useState('');
  const { busy, error, setError, run } = useCartAction();
  const apply = async (event: FormEvent) => {
    event.preventDefault();
    if (!code.trim()) {
      setError('Enter a discount code.');
      return;
    }
    await run(async () => {
      const next = await api.request<Cart>('POST', cartPath('/discount'), { body: { code: code.trim() }, headers: { 'idempotency-key': newIdempotencyKey() } });
      setCode('');
      onChange(next, `Discount code ${next.discount?.code ?? code.trim().toUpperCase()} applied.`);
    }, 'Could not apply the code.');
  };
  const remove = () =>
    run(async () => {
      const next = await api.request<Cart>('DELETE', cartPath('/discount'));
      onChange(next, 'Discount code removed.');
    }, 'Could not remove the code.');
  if (cart.discount) {
    return (
      <div className="discount">
        <p>
          Code <strong>{cart.discount.code}</strong>: {cart.discount.description}
          {cart.discount.reason && <span className="error"> — {cart.discount.reason}</span>}
        </p>
        <button type="button" className="secondary" onClick={() => void remove()} disabled={busy}>
          Remove code
        </button>
        <ErrorMessage>{error}</ErrorMessage>
      </div>
    );
  }
  return (
    <form className="discount" onSubmit={(e) => void apply(e)} noValidate>
      <label htmlFor="discount-code">Discount code</label>
      <div className="inline">
        <input id="discount-code" value={code} onChange={(e) => setCode(e.target.value)} autoComplete="off" aria-invalid={error ? true : undefined} aria-describedby={error ? 'discount-error' : undefined} />
        <button type="submit" disabled={busy}>
          Apply
        </button>
      </div>
      {error && (
        <span id="discount-error" className="field-error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}

export function CartView() {
  const { cart, cartError, refreshCart, setCart, announce } = useStore();
  // Availability moves while the page is open: re-read the cart every few seconds.
  useEffect(() => {
    void refreshCart();
    const timer = window.setInterval(() => void refreshCart(), CART_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [refreshCart]);
  const changed = (next: Cart, message: string) => {
    setCart(next);
    announce(message);
  };
  return (
    <Page title="Your cart">
      <ErrorMessage>{cartError}</ErrorMessage>
      {!cart && !cartError && <Loading what="your cart" />}
      {cart && cart.lines.length === 0 && (
        <p>
          Your cart is empty. <a href="#/browse">Start shopping</a>.
        </p>
      )}
      {cart && cart.lines.length > 0 && (
        <div className="cart-layout">
          <ul className="cart-lines" aria-label="Items in your cart">
            {cart.lines.map((line) => (
              <CartLineRow key={line.productId} line={line} currency={cart.currency} onChange={changed} />
            ))}
          </ul>
          <aside className="cart-side" aria-label="Order summary">
            <DiscountForm cart={cart} onChange={changed} />
            <CartSummary cart={cart} />
            <a className="button primary" href="#/checkout">
              Go to checkout
            </a>
          </aside>
        </div>
      )}
    </Page>
  );
}
