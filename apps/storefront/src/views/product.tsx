import { useEffect, useState, type FormEvent } from 'react';
import type { Cart, Product, StockLevel } from '@emporium/contracts';
import { ApiError, newIdempotencyKey } from '../lib/api';
import { useStore } from '../state';
import { ErrorMessage, Loading, Page } from '../components/page';
import { Price } from '../components/money';
import { ProductImage } from '../components/product-card';
import { useFetch } from './catalog';

const AVAILABILITY_REFRESH_MS = 5000;

export function availabilityText(available: number | null | undefined): { text: string; tone: 'ok' | 'low' | 'out' | 'unknown' } {
  if (available === null || available === undefined) return { text: 'Availability unknown', tone: 'unknown' };
  if (available <= 0) return { text: 'Out of stock', tone: 'out' };
  if (available <= 5) return { text: `Only ${available} left`, tone: 'low' };
  return { text: `In stock (${available} available)`, tone: 'ok' };
}

/** Stock as inventory sees it now, re-read every few seconds while the page is open. */
function useAvailability(productId: string): number | null | undefined {
  const { api } = useStore();
  const [available, setAvailable] = useState<number | null | undefined>(undefined);
  useEffect(() => {
    let stopped = false;
    const read = async () => {
      try {
        const level = await api.request<StockLevel>('GET', `/inventory/${encodeURIComponent(productId)}`);
        if (!stopped) setAvailable(level.available);
      } catch (error) {
        if (!stopped && error instanceof ApiError && error.status === 404) setAvailable(null);
      }
    };
    void read();
    const timer = window.setInterval(() => void read(), AVAILABILITY_REFRESH_MS);
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, [api, productId]);
  return available;
}

export function ProductView({ id }: { id: string }) {
  const { data: product, error } = useFetch<Product>(`/products/${encodeURIComponent(id)}`);
  const available = useAvailability(id);
  const { api, setCart, announce, cartPath } = useStore();
  const [quantity, setQuantity] = useState('1');
  const [busy, setBusy] = useState(false);
  const [addError, setAddError] = useState<string>();
  const [added, setAdded] = useState<string>();

  if (error) {
    return (
      <Page title="Product not found">
        <ErrorMessage>{error}</ErrorMessage>
        <p>
          <a href="#/browse">Browse the categories</a>
        </p>
      </Page>
    );
  }
  if (!product) {
    return (
      <Page title="Product">
        <Loading what="the product" />
      </Page>
    );
  }

  const stock = availabilityText(available);
  const add = async (event: FormEvent) => {
    event.preventDefault();
    const n = Number(quantity);
    if (!Number.isInteger(n) || n < 1 || n > 999) {
      setAddError('Enter a quantity from 1 to 999.');
      return;
    }
    setBusy(true);
    setAddError(undefined);
    setAdded(undefined);
    try {
      await api.ensureSession();
      const cart = await api.request<Cart>('POST', cartPath('/add'), { body: { productId: product.id, quantity: n }, headers: { 'idempotency-key': newIdempotencyKey() } });
      setCart(cart);
      const message = `Added ${n} × ${product.name} to your cart.`;
      setAdded(message);
      announce(message);
    } catch (e) {
      setAddError(e instanceof ApiError ? (e.fieldMessage('quantity') ? `Quantity ${e.fieldMessage('quantity')}` : e.message) : 'Could not add to the cart.');
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title={product.name}>
      <div className="product-detail">
        <ProductImage name={product.name} category={product.category} large />
        <div>
          <p className="big-price">
            <Price amount={product.price.amount} currency={product.price.currency} />
          </p>
          <p className={`stock stock-${stock.tone}`} aria-live="polite" data-testid="availability">
            {available === undefined ? 'Checking availability…' : stock.text}
          </p>
          <p>{product.description}</p>
          <form className="add-form" onSubmit={(e) => void add(e)} noValidate>
            <label htmlFor="quantity">Quantity</label>
            <input id="quantity" name="quantity" type="number" inputMode="numeric" min={1} max={999} value={quantity} onChange={(e) => setQuantity(e.target.value)} aria-invalid={addError ? true : undefined} aria-describedby={addError ? 'add-error' : undefined} />
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Adding…' : 'Add to cart'}
            </button>
          </form>
          {addError && (
            <p id="add-error" className="error" role="alert">
              {addError}
            </p>
          )}
          {added && (
            <p className="success">
              {added} <a href="#/cart">View cart</a>
            </p>
          )}
          <p className="muted small">Category: <a href={`#/category/${encodeURIComponent(product.category)}`}>{product.category}</a></p>
        </div>
      </div>
    </Page>
  );
}
