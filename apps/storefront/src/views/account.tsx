import { useState, type FormEvent } from 'react';
import type { Cart } from '@emporium/contracts';
import { ApiError, fieldSentence } from '../lib/api';
import { parseRoute, navigate } from '../lib/router';
import type { Session } from '../lib/session';
import { useStore } from '../state';
import { Page } from '../components/page';
import { Field } from '../components/field';

type Fields = 'name' | 'email' | 'password';

/**
 * Identity merges the guest's cart into the customer's through an event, so the merged cart shows
 * up a moment after sign-in: re-read it until every guest line is there, or two seconds pass.
 */
async function waitForMergedCart(read: () => Promise<Cart | undefined>, guestCart: Cart | undefined): Promise<void> {
  const wanted = guestCart?.lines.map((l) => l.productId) ?? [];
  if (wanted.length === 0) {
    await read();
    return;
  }
  const deadline = Date.now() + 2500;
  for (;;) {
    const cart = await read();
    if (cart && wanted.every((id) => cart.lines.some((l) => l.productId === id))) return;
    if (Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

function AccountForm({ mode, next }: { mode: 'signin' | 'signup'; next: string | undefined }) {
  const { api, cart, refreshCart, announce } = useStore();
  const [values, setValues] = useState({ name: '', email: '', password: '' });
  const [errors, setErrors] = useState<Partial<Record<Fields, string>>>({});
  const [formError, setFormError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const set = (key: Fields) => (e: { target: { value: string } }) => setValues({ ...values, [key]: e.target.value });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const local: Partial<Record<Fields, string>> = {};
    if (mode === 'signup' && !values.name.trim()) local.name = 'Enter your name.';
    if (!/^\S+@\S+\.\S+$/.test(values.email.trim())) local.email = 'Enter an email address such as name@example.com.';
    if (!values.password) local.password = 'Enter a password.';
    else if (mode === 'signup' && values.password.length < 10) local.password = 'Use at least 10 characters.';
    setErrors(local);
    setFormError(undefined);
    if (Object.keys(local).length > 0) {
      window.setTimeout(() => document.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus(), 0);
      return;
    }
    setBusy(true);
    const guestCart = cart;
    try {
      const session: Session = mode === 'signup' ? await api.signUp(values.name.trim(), values.email.trim(), values.password) : await api.signIn(values.email.trim(), values.password);
      await waitForMergedCart(refreshCart, guestCart);
      announce(mode === 'signup' ? `Welcome, ${session.customer?.name ?? ''}! Your account is ready.` : `Welcome back, ${session.customer?.name ?? ''}.`);
      const target = next ? parseRoute(`#${next}`) : { name: 'home' as const };
      navigate(target.name === 'not-found' ? { name: 'home' } : target);
    } catch (error) {
      setBusy(false);
      if (error instanceof ApiError) {
        const labels: Record<Fields, string> = { name: 'Your name', email: 'The email address', password: 'The password' };
        const fieldErrors: Partial<Record<Fields, string>> = {};
        for (const f of error.fieldErrors) if (f.field === 'name' || f.field === 'email' || f.field === 'password') fieldErrors[f.field] = fieldSentence(labels[f.field], f.message);
        if (error.code === 'AUTH.WEAK_PASSWORD' && !fieldErrors.password) fieldErrors.password = error.message;
        setErrors(fieldErrors);
        // Said next to the field already: no second message under the form.
        const besideFields = Object.keys(fieldErrors).length > 0;
        setFormError(error.code === 'AUTH.INVALID_CREDENTIALS' ? 'That email and password do not match an account. Check them and try again.' : besideFields ? undefined : error.message);
      } else setFormError('Something went wrong; please try again.');
      window.setTimeout(() => document.querySelector<HTMLElement>('[aria-invalid="true"], #account-error')?.focus(), 0);
    }
  };

  return (
    <form className="account-form" onSubmit={(e) => void submit(e)} noValidate>
      {mode === 'signup' && <Field label="Your name" name="name" autoComplete="name" value={values.name} onChange={set('name')} error={errors.name} required />}
      <Field label="Email" name="email" type="email" autoComplete="email" value={values.email} onChange={set('email')} error={errors.email} required />
      <Field
        label="Password"
        name="password"
        type="password"
        autoComplete={mode === 'signup' ? 'new-password' : 'current-password'}
        hint={mode === 'signup' ? 'At least 10 characters; a phrase of several words works well.' : undefined}
        value={values.password}
        onChange={set('password')}
        error={errors.password}
        required
      />
      {formError && (
        <p id="account-error" className="error" role="alert" tabIndex={-1}>
          {formError}
        </p>
      )}
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Please wait…' : mode === 'signup' ? 'Create account' : 'Sign in'}
      </button>
      {cart && cart.itemCount > 0 && <p className="muted small">The {cart.itemCount} items in your cart come with you.</p>}
    </form>
  );
}

export function SignInView({ next }: { next: string | undefined }) {
  return (
    <Page title="Sign in">
      <AccountForm mode="signin" next={next} />
      <p>
        New here? <a href={`#/signup${next ? `?next=${encodeURIComponent(next)}` : ''}`}>Create an account</a>.
      </p>
    </Page>
  );
}

export function SignUpView({ next }: { next: string | undefined }) {
  return (
    <Page title="Create an account">
      <AccountForm mode="signup" next={next} />
      <p>
        Already have an account? <a href={`#/signin${next ? `?next=${encodeURIComponent(next)}` : ''}`}>Sign in</a>.
      </p>
    </Page>
  );
}
