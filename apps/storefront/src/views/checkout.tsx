import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { OrderView } from '@emporium/contracts';
import { ApiError, fieldSentence, newIdempotencyKey } from '../lib/api';
import { COUNTRIES, parseExpiry, validateAddress, validateCard, type AddressForm, type CardForm, type Errors } from '../lib/checkout';
import { recentOrders } from '../lib/order-stream';
import { CardError, tokenizeCard } from '../lib/processor';
import { navigate } from '../lib/router';
import { useStore } from '../state';
import { Loading, Page } from '../components/page';
import { Field } from '../components/field';
import { CartSummary } from './cart';

const ADDRESS_FIELD: Record<string, keyof AddressForm> = { name: 'name', line1: 'line1', line2: 'line2', city: 'city', postalCode: 'postalCode', country: 'country' };

/** Places the order; the same key on automatic retries, so a retry can never order twice. */
async function placeOrder(api: ReturnType<typeof useStore>['api'], body: unknown): Promise<OrderView> {
  const key = newIdempotencyKey();
  for (let attempt = 1; ; attempt++) {
    try {
      return await api.request<OrderView>('POST', '/api/orders', { body, headers: { 'idempotency-key': key } });
    } catch (error) {
      const retriable = error instanceof ApiError && (error.status === 0 || error.status >= 500 || error.code === 'IDEMPOTENCY.IN_PROGRESS');
      if (!retriable || attempt >= 4) throw error;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

export function CheckoutView() {
  const { api, cart, session, refreshCart, announce, loadProcessor } = useStore();
  const [address, setAddress] = useState<AddressForm>({ name: session?.customer?.name ?? '', line1: '', line2: '', city: '', postalCode: '', country: 'IE' });
  const [card, setCard] = useState<CardForm>({ number: '', expiry: '', cvc: '' });
  const [addressErrors, setAddressErrors] = useState<Errors<AddressForm>>({});
  const [cardErrors, setCardErrors] = useState<Errors<CardForm>>({});
  const [formError, setFormError] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const errorRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    void refreshCart();
  }, [refreshCart]);

  const focusFirstError = () => {
    window.setTimeout(() => {
      const invalid = document.querySelector<HTMLElement>('[aria-invalid="true"]');
      (invalid ?? errorRef.current)?.focus();
    }, 0);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setFormError(undefined);
    const aErrors = validateAddress(address);
    const cErrors = validateCard(card);
    setAddressErrors(aErrors);
    setCardErrors(cErrors);
    if (Object.keys(aErrors).length > 0 || Object.keys(cErrors).length > 0) {
      announce('Some details need fixing before the order can be placed.');
      focusFirstError();
      return;
    }
    try {
      setBusy('Checking your card…');
      await api.ensureSession();
      const config = await loadProcessor();
      const expiry = parseExpiry(card.expiry)!;
      const token = await tokenizeCard(config, { number: card.number, expMonth: expiry.month, expYear: expiry.year, cvc: card.cvc });
      setBusy('Placing your order…');
      const shippingAddress = {
        name: address.name.trim(),
        line1: address.line1.trim(),
        ...(address.line2.trim() ? { line2: address.line2.trim() } : {}),
        city: address.city.trim(),
        postalCode: address.postalCode.trim(),
        country: address.country,
      };
      const order = await placeOrder(api, {
        from_cart: true,
        payment_method: 'credit_card',
        payment_token: token.id,
        shipping_address: shippingAddress,
      });
      recentOrders.set(order.id, order);
      announce('We have your order and are confirming your payment and stock.');
      navigate({ name: 'order', id: order.id, placed: true });
    } catch (error) {
      setBusy(undefined);
      if (error instanceof CardError) {
        if (error.field) {
          const field = error.field === 'expMonth' || error.field === 'expYear' ? 'expiry' : error.field;
          setCardErrors({ [field]: error.message });
        } else setFormError(error.message);
        announce(`Your card was not accepted: ${error.message}`);
        focusFirstError();
        return;
      }
      if (error instanceof ApiError) {
        const aFromServer: Errors<AddressForm> = {};
        const others: string[] = [];
        for (const fieldError of error.fieldErrors) {
          const name = fieldError.field.replace(/^shipping_address\./, '');
          const key = fieldError.field.startsWith('shipping_address') ? ADDRESS_FIELD[name] : undefined;
          if (key) aFromServer[key] = fieldSentence('This', fieldError.message);
          else others.push(`${fieldError.field}: ${fieldError.message}`);
        }
        setAddressErrors(aFromServer);
        setFormError([error.message, ...others].join(' '));
        focusFirstError();
        return;
      }
      setFormError(error instanceof Error ? error.message : 'The order could not be placed.');
      focusFirstError();
    }
  };

  if (!cart) {
    return (
      <Page title="Checkout">
        <Loading what="your cart" />
      </Page>
    );
  }
  if (cart.lines.length === 0) {
    return (
      <Page title="Checkout">
        <p>
          Your cart is empty. <a href="#/browse">Find something you like</a> first.
        </p>
      </Page>
    );
  }

  // Editing a field takes its error away: the message was about the old value.
  const setA = (key: keyof AddressForm) => (e: { target: { value: string } }) => {
    setAddress({ ...address, [key]: e.target.value });
    if (addressErrors[key]) setAddressErrors({ ...addressErrors, [key]: undefined });
  };
  const setC = (key: keyof CardForm) => (e: { target: { value: string } }) => {
    setCard({ ...card, [key]: e.target.value });
    if (cardErrors[key]) setCardErrors({ ...cardErrors, [key]: undefined });
  };

  return (
    <Page title="Checkout">
      {session?.kind !== 'customer' && (
        <p className="notice">
          Checking out as a guest. <a href="#/signin?next=%2Fcheckout">Sign in</a> to keep your orders in your account.
        </p>
      )}
      <div className="checkout-layout">
        <form className="checkout-form" onSubmit={(e) => void submit(e)} noValidate aria-describedby={formError ? 'checkout-error' : undefined}>
          <fieldset>
            <legend>Shipping address</legend>
            <Field label="Full name" name="name" autoComplete="shipping name" value={address.name} onChange={setA('name')} error={addressErrors.name} required />
            <Field label="Address line 1" name="line1" autoComplete="shipping address-line1" value={address.line1} onChange={setA('line1')} error={addressErrors.line1} required />
            <Field label="Address line 2 (optional)" name="line2" autoComplete="shipping address-line2" value={address.line2} onChange={setA('line2')} error={addressErrors.line2} />
            <div className="field-row">
              <Field label="Town or city" name="city" autoComplete="shipping address-level2" value={address.city} onChange={setA('city')} error={addressErrors.city} required />
              <Field label="Postal code" name="postalCode" autoComplete="shipping postal-code" value={address.postalCode} onChange={setA('postalCode')} error={addressErrors.postalCode} required />
            </div>
            <div className={`field${addressErrors.country ? ' field-invalid' : ''}`}>
              <label htmlFor="country">Country</label>
              <select id="country" name="country" autoComplete="shipping country" value={address.country} onChange={setA('country')} aria-invalid={addressErrors.country ? true : undefined} aria-describedby={addressErrors.country ? 'country-error' : undefined}>
                {COUNTRIES.map(([code, name]) => (
                  <option key={code} value={code}>
                    {name}
                  </option>
                ))}
              </select>
              {addressErrors.country && (
                <span id="country-error" className="field-error">
                  {addressErrors.country}
                </span>
              )}
            </div>
          </fieldset>
          <fieldset>
            <legend>Payment by card</legend>
            <p className="muted small">Your card details go straight to our payment processor; Emporium never sees or stores them.</p>
            <Field label="Card number" name="cardnumber" autoComplete="cc-number" inputMode="numeric" value={card.number} onChange={setC('number')} error={cardErrors.number} required />
            <div className="field-row">
              <Field label="Expiry date (MM/YY)" name="cc-exp" autoComplete="cc-exp" placeholder="MM/YY" value={card.expiry} onChange={setC('expiry')} error={cardErrors.expiry} required />
              <Field label="Security code (CVC)" name="cvc" autoComplete="cc-csc" inputMode="numeric" value={card.cvc} onChange={setC('cvc')} error={cardErrors.cvc} required />
            </div>
          </fieldset>
          <div ref={errorRef} tabIndex={-1}>
            {formError && (
              <p id="checkout-error" className="error" role="alert">
                {formError}
              </p>
            )}
          </div>
          <button type="submit" className="primary wide" disabled={busy !== undefined}>
            {busy ?? 'Place order'}
          </button>
          <p className="muted small" aria-live="polite">
            {busy}
          </p>
        </form>
        <aside className="cart-side" aria-label="Order summary">
          <h2>Order summary</h2>
          <ul className="summary-lines">
            {cart.lines.map((l) => (
              <li key={l.productId}>
                {l.quantity} × {l.name}
              </li>
            ))}
          </ul>
          <CartSummary cart={cart} />
          <a href="#/cart">Change the cart</a>
        </aside>
      </div>
    </Page>
  );
}
