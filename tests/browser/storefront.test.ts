import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { signUpCustomer } from '../support/auth';
import { browserRequired, hasBrowser, launchBrowser, screenshots, watchForPageErrors } from './support/browser';
import { startTestStore, type TestStore } from './support/store';

/**
 * The storefront in a real browser (Debian's chromium driven by playwright-core) against the whole
 * store in this process: the journeys a shopper makes, by mouse, by keyboard and on a phone.
 * Screenshots of every step land in test-artifacts/browser/<journey>/.
 */
const FINAL_STATUS_MS = 45_000;
const password = () => `Browser test ${randomBytes(6).toString('hex')}`;
const email = () => `shopper-${randomBytes(5).toString('hex')}@example.test`;

// In CI a missing browser fails the run; on a laptop without chromium the suite says why it skips.
const run = hasBrowser || browserRequired ? describe : describe.skip;
if (!hasBrowser && !browserRequired) console.warn('tests/browser: no /usr/bin/chromium — skipping the browser journeys (apt-get install -y chromium).');

run('storefront in a browser', () => {
  let store: TestStore;
  let browser: Browser;

  beforeAll(async () => {
    [store, browser] = await Promise.all([startTestStore(), launchBrowser()]);
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await store?.stop();
  }, 60_000);

  let open: BrowserContext | undefined;
  afterEach(async () => {
    await open?.close();
    open = undefined;
  });

  /** A fresh browser context (its own storage: a new visitor); a failing journey leaves a screenshot. */
  async function openContext(shot: (page: Page, step: string) => Promise<void>, options: Parameters<Browser['newContext']>[0] = {}): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-IE', ...options });
    open = context;
    const errors = watchForPageErrors(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    onTestFailed(async () => {
      await shot(page, 'failure').catch(() => undefined);
      if (errors.length > 0) console.error(`page errors: ${errors.join(' | ')}`);
    });
    return { context, page, errors };
  }

  /** As long as the pages wait for anything (`setDefaultTimeout`): on 2 busy cores a view can take more than expect.poll's default second. */
  const UI = { timeout: 15_000 };
  const heading = (page: Page) => page.locator('h1');
  const cartCount = (page: Page) => page.locator('.cart-link .badge');

  async function addToCart(page: Page, search: string, productName: string, quantity = 1) {
    await page.getByRole('searchbox', { name: 'Search products' }).fill(search);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect.poll(() => heading(page).textContent(), UI).toContain(search);
    await page.getByRole('link', { name: productName }).click();
    await expect.poll(() => heading(page).textContent(), UI).toBe(productName);
    await page.getByLabel('Quantity', { exact: true }).fill(String(quantity));
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByText(`Added ${quantity} × ${productName} to your cart.`).first().waitFor();
  }

  async function fillCheckout(page: Page, card: string) {
    await page.getByLabel('Full name').fill('Ada Shopper');
    await page.getByLabel('Address line 1').fill('1 Grafton Street');
    await page.getByLabel('Town or city').fill('Dublin');
    await page.getByLabel('Postal code').fill('D02 XY45');
    await page.getByLabel('Country').selectOption('IE');
    await page.getByLabel('Card number').fill(card);
    await page.getByLabel('Expiry date (MM/YY)').fill('12/30');
    await page.getByLabel('Security code (CVC)').fill('123');
  }

  /**
   * Records, from the moment the document starts, every order status the page shows (the
   * `data-status` of the status box), so a test can tell it changed in place.
   */
  const STATUS_RECORDER = `
    window.__statuses = [];
    window.__live = [];
    new MutationObserver(() => {
      const box = document.querySelector('[data-testid="order-status"]');
      const status = box && box.getAttribute('data-status');
      const live = box && box.getAttribute('data-live');
      if (status && window.__statuses[window.__statuses.length - 1] !== status) window.__statuses.push(status);
      if (live && !window.__live.includes(live)) window.__live.push(live);
    }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status', 'data-live'] });`;
  const liveModes = (page: Page) => page.evaluate<string[]>('window.__live');
  const statusesShown = (page: Page) => page.evaluate<string[]>('window.__statuses');

  /** Marks the document, so a later check proves the page was never reloaded. */
  const markDocument = (page: Page) => page.evaluate('window.__sameDocument = true');
  const sameDocument = (page: Page) => page.evaluate<boolean>('window.__sameDocument === true');

  it('when a new shopper signs up, searches, adds two items, uses WELCOME10 and pays, then the order reaches its final status without a reload', async () => {
    const shot = screenshots('checkout');
    const { context, page, errors } = await openContext(shot);
    await context.addInitScript(STATUS_RECORDER);
    await page.goto(store.url);
    await heading(page).filter({ hasText: 'Welcome to Emporium' }).waitFor();
    await page.locator('.product-card').first().waitFor();
    await shot(page, 'home');

    await page.getByRole('link', { name: 'Create account' }).click();
    await expect.poll(() => heading(page).textContent(), UI).toBe('Create an account');
    await page.getByLabel('Your name').fill('Ada Shopper');
    await page.getByLabel('Email').fill(email());
    await page.getByLabel('Password').fill(password());
    await shot(page, 'sign-up');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Hi, Ada Shopper').waitFor();
    await shot(page, 'signed-up');

    await page.getByRole('searchbox', { name: 'Search products' }).fill('lamp');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('link', { name: 'Brass desk lamp' }).waitFor();
    await shot(page, 'search-results');
    await page.getByRole('link', { name: 'Brass desk lamp' }).click();
    await page.getByTestId('availability').filter({ hasText: /In stock|left/ }).waitFor();
    await shot(page, 'product');
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByText('Added 1 × Brass desk lamp to your cart.').first().waitFor();
    await addToCart(page, 'mug', 'Stoneware mug', 2);
    await expect.poll(() => cartCount(page).textContent(), UI).toBe('3');
    await shot(page, 'added-to-cart');

    await page.getByRole('link', { name: /^Cart/ }).click();
    await page.locator('.cart-line').nth(1).waitFor();
    expect(await page.locator('.cart-line').count()).toBe(2);
    await shot(page, 'cart');
    await page.getByLabel('Discount code').fill('welcome10');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('Discount (WELCOME10)').waitFor();
    // 49.99 + 2 × 14.00 = 77.99; 10% off (rounded down) = 7.79; total 70.20.
    expect(await page.locator('.totals .grand-total dd').textContent()).toBe('€70.20');
    await shot(page, 'discount-applied');

    await page.getByRole('link', { name: 'Go to checkout' }).click();
    await expect.poll(() => heading(page).textContent(), UI).toBe('Checkout');
    await fillCheckout(page, '4242 4242 4242 4242');
    await shot(page, 'checkout-filled');
    await page.getByRole('button', { name: 'Place order' }).click();
    await expect.poll(() => heading(page).textContent(), UI).toBe('Thank you for your order');
    await markDocument(page);
    await shot(page, 'order-placed');

    await page.locator('[data-testid="order-status"][data-status="completed"]').waitFor({ timeout: FINAL_STATUS_MS });
    expect(await sameDocument(page)).toBe(true);
    // The page showed the order first as just placed, then moved it on by itself to completed.
    const shown = await statusesShown(page);
    expect(shown[0]).toBe('placed');
    expect(shown.at(-1)).toBe('completed');
    // …over the order's event stream (server-sent events through the gateway), not by polling.
    expect(await liveModes(page)).toEqual(['stream']);
    expect(await page.getByTestId('order-status').textContent()).toContain('Completed');
    expect(await page.locator('.totals .grand-total dd').textContent()).toBe('€70.20');
    await shot(page, 'order-completed');

    await page.getByRole('link', { name: 'Orders', exact: true }).click();
    await page.locator('.order-list tbody tr').first().waitFor();
    expect(await page.locator('.order-list tbody tr').count()).toBe(1);
    await shot(page, 'order-history');
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  it('when the card is declined, then the shopper is told plainly and the cart survives', async () => {
    const shot = screenshots('declined');
    const { context, page, errors } = await openContext(shot);
    await page.goto(store.url);
    await addToCart(page, 'kettle', 'Enamel kettle', 1);
    await page.getByRole('link', { name: /^Cart/ }).click();
    await page.locator('.cart-line').first().waitFor();
    await shot(page, 'cart');
    await page.getByRole('link', { name: 'Go to checkout' }).click();
    await fillCheckout(page, '4000 0000 0000 0002');
    await shot(page, 'checkout-filled');
    await page.getByRole('button', { name: 'Place order' }).click();
    await page.locator('[data-testid="order-status"][data-status="payment_failed"]').waitFor({ timeout: FINAL_STATUS_MS });
    expect(await heading(page).textContent()).toBe('Your payment did not go through');
    const message = await page.getByTestId('order-status').textContent();
    expect(message).toMatch(/Payment failed/);
    expect(message).toMatch(/declined/i);
    expect(message).toMatch(/cart still holds these items/);
    await shot(page, 'payment-failed');

    await page.getByRole('link', { name: 'review your cart' }).click();
    await page.locator('.cart-line').first().waitFor();
    expect(await page.locator('.cart-line-name').allTextContents()).toEqual(['Enamel kettle']);
    expect(await page.getByLabel('Quantity of Enamel kettle').inputValue()).toBe('1');
    await shot(page, 'cart-kept');
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  it("when a guest with a cart signs in, then the guest's items are merged into the customer's cart", async () => {
    const shot = screenshots('merge');
    const customer = await signUpCustomer(store.url, { name: 'Grace Returning' });
    // The customer already has something in the cart from an earlier visit.
    const seeded = await fetch(`${store.url}/cart/${customer.id}/add`, { method: 'POST', headers: { ...customer.headers, 'content-type': 'application/json' }, body: JSON.stringify({ productId: '445', quantity: 1 }) });
    expect(seeded.status).toBe(200);

    const { context, page, errors } = await openContext(shot);
    await page.goto(store.url);
    await addToCart(page, 'candle', 'Beeswax candle set', 2);
    await page.getByRole('link', { name: /^Cart/ }).click();
    await page.locator('.cart-line').first().waitFor();
    await shot(page, 'guest-cart');

    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByLabel('Email').fill(customer.email);
    await page.getByLabel('Password').fill(customer.password);
    await shot(page, 'sign-in');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Hi, Grace Returning').waitFor();
    await page.getByRole('link', { name: /^Cart/ }).click();
    await page.locator('.cart-line').nth(1).waitFor({ timeout: 10_000 });
    const names = await page.locator('.cart-line-name').allTextContents();
    expect(names.sort()).toEqual(['Beeswax candle set', 'Oak dining chair']);
    expect(await page.getByLabel('Quantity of Beeswax candle set').inputValue()).toBe('2');
    await shot(page, 'merged-cart');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in' }).waitFor();
    await expect.poll(() => cartCount(page).textContent(), UI).toBe('0');
    await shot(page, 'signed-out');
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  it('when a shopper uses only the keyboard, then they can find a product, add it, check out and pay, always seeing where the focus is', async () => {
    const shot = screenshots('keyboard');
    const { context, page, errors } = await openContext(shot);
    await page.goto(store.url);
    await page.locator('.product-card').first().waitFor();

    // Runs in the page: what has the focus, its accessible name (roughly) and its focus ring.
    const focused = () =>
      page.evaluate<{ name: string; tag: string; outline: string }>(`(() => {
        const el = document.activeElement;
        if (!el) return { name: '', tag: '', outline: 'none' };
        const label = el.id ? document.querySelector('label[for="' + el.id + '"]')?.textContent : undefined;
        const style = getComputedStyle(el);
        return { name: (el.getAttribute('aria-label') ?? label ?? el.textContent ?? '').trim(), tag: el.tagName, outline: style.outlineStyle + ' ' + style.outlineWidth };
      })()`);
    /** Presses Tab until the focus is on what `want` matches; fails after 60 presses. */
    const tabTo = async (want: RegExp) => {
      for (let i = 0; i < 60; i++) {
        await page.keyboard.press('Tab');
        const now = await focused();
        if (want.test(now.name)) {
          expect(now.outline, `focus ring on ${now.name}`).not.toMatch(/^none/);
          return;
        }
      }
      throw new Error(`Tab never reached ${want}`);
    };

    await tabTo(/^Search products$/);
    await page.keyboard.type('oak');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await focused()).tag, UI).toBe('H1');
    expect((await focused()).name).toContain('Search results for “oak”');
    await shot(page, 'search-results-focused');

    await tabTo(/^Oak dining chair$/);
    await shot(page, 'product-link-focused');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await focused()).name, UI).toBe('Oak dining chair');
    await tabTo(/^Quantity$/);
    await page.keyboard.press('Control+A');
    await page.keyboard.type('2');
    await tabTo(/^Add to cart$/);
    await shot(page, 'add-button-focused');
    await page.keyboard.press('Enter');
    await page.getByText('Added 2 × Oak dining chair to your cart.').first().waitFor();
    // The announcement reaches screen readers through the polite live region.
    await expect.poll(() => page.locator('.status-bar[role="status"]').textContent(), UI).toContain('Added 2 × Oak dining chair');

    await page.keyboard.press('Shift+Tab');
    await tabTo(/^Cart/);
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await focused()).name, UI).toBe('Your cart');
    await tabTo(/^Go to checkout$/);
    await shot(page, 'checkout-link-focused');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await focused()).name, UI).toBe('Checkout');

    // An empty form submitted by keyboard: errors next to each field, focus on the first.
    await tabTo(/^Place order$/);
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await focused()).name, UI).toBe('Full name');
    expect(await page.locator('.field-error').count()).toBeGreaterThanOrEqual(5);
    await shot(page, 'errors-next-to-fields');

    // Fill the form and place the order without the mouse.
    await page.keyboard.type('Kay Board');
    for (const [field, text] of [
      [/^Address line 1$/, '5 Keyboard Lane'],
      [/^Town or city$/, 'Cork'],
      [/^Postal code$/, 'T12 AB34'],
      [/^Card number$/, '4242 4242 4242 4242'],
      [/^Expiry date \(MM\/YY\)$/, '11/31'],
      [/^Security code \(CVC\)$/, '321'],
    ] as const) {
      await tabTo(field);
      await page.keyboard.type(text);
    }
    await tabTo(/^Place order$/);
    await shot(page, 'form-filled-by-keyboard');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await focused()).name, UI).toBe('Thank you for your order');
    await page.locator('[data-testid="order-status"][data-status="completed"]').waitFor({ timeout: FINAL_STATUS_MS });
    await shot(page, 'order-completed');
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  it('when the stored access token is no longer accepted, then the app refreshes it once and the shopper carries on', async () => {
    const shot = screenshots('refresh');
    const { context, page, errors } = await openContext(shot);
    await page.goto(store.url);
    await addToCart(page, 'speaker', 'Bluetooth speaker');
    // Spoil the token's signature, as a rotated-away key or a copied token would look to the gateway.
    // The first signature character is changed: the last one carries unused padding bits, so
    // changing it can leave the decoded signature (and the token) valid.
    const spoiled = await page.evaluate<string>(`(() => {
      const session = JSON.parse(localStorage.getItem('emporium.session'));
      const at = session.accessToken.lastIndexOf('.') + 1;
      const first = session.accessToken[at];
      session.accessToken = session.accessToken.slice(0, at) + (first === 'A' ? 'B' : 'A') + session.accessToken.slice(at + 1);
      localStorage.setItem('emporium.session', JSON.stringify(session));
      return session.accessToken;
    })()`);
    const refreshes: number[] = [];
    page.on('response', (response) => {
      if (response.url().endsWith('/auth/refresh')) refreshes.push(response.status());
    });
    await page.reload();
    await page.goto(`${store.url}/#/cart`);
    await page.locator('.cart-line').first().waitFor();
    expect(await page.locator('.cart-line-name').allTextContents()).toEqual(['Bluetooth speaker']);
    expect(refreshes).toEqual([200]);
    const current = await page.evaluate<string>(`JSON.parse(localStorage.getItem('emporium.session')).accessToken`);
    expect(current).not.toBe(spoiled);
    await shot(page, 'cart-after-refresh');
    expect(errors.filter((e) => !e.includes('401'))).toEqual([]);
    await context.close();
  }, 120_000);

  it('when an announcement comes and goes, then the page under it does not move', async () => {
    const shot = screenshots('announcement');
    const { page, errors } = await openContext(shot);
    await page.goto(store.url);
    const bar = page.locator('.status-bar');
    const top = async () => (await page.locator('main').boundingBox())!.y;
    await expect.poll(() => bar.textContent(), UI).toBe('');
    const quiet = await top();
    await page.getByRole('searchbox', { name: 'Search products' }).fill('kettle');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    // The results are announced a moment after they show: a shopper may be reaching for a link then.
    await expect.poll(() => bar.textContent(), UI).toMatch(/found for “kettle”/);
    await shot(page, 'announced');
    expect(await top()).toBe(quiet);
    await expect.poll(() => bar.textContent(), UI).toBe('');
    expect(await top()).toBe(quiet);
    expect(errors).toEqual([]);
  }, 60_000);

  it('when something is wrong, then the message says what and sits next to the field', async () => {
    const shot = screenshots('errors');
    const { context, page, errors } = await openContext(shot);
    await page.goto(`${store.url}/#/signup`);
    await page.getByLabel('Your name').fill('Weak Password');
    await page.getByLabel('Email').fill(email());
    await page.getByLabel('Password').fill('aaaaaaaaaa');
    await page.getByRole('button', { name: 'Create account' }).click();
    const passwordError = page.locator('.field-error').first();
    await passwordError.waitFor();
    expect(await page.getByLabel('Password').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('Password').getAttribute('aria-describedby')).toContain(await passwordError.getAttribute('id'));
    await shot(page, 'weak-password');

    await page.goto(`${store.url}/#/signin`);
    await page.getByLabel('Email').fill(email());
    await page.getByLabel('Password').fill(password());
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'do not match an account' }).waitFor();
    await shot(page, 'wrong-password');

    await addToCart(page, 'board', 'Olive wood board');
    await page.goto(`${store.url}/#/cart`);
    await page.getByLabel('Discount code').fill('NOSUCHCODE');
    await page.getByRole('button', { name: 'Apply' }).click();
    const codeError = page.locator('#discount-error');
    await codeError.waitFor();
    expect((await codeError.textContent())?.length).toBeGreaterThan(10);
    expect(await page.getByLabel('Discount code').getAttribute('aria-invalid')).toBe('true');
    await shot(page, 'unknown-discount-code');
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  it('when the store is used on a phone-sized screen, then every main view fits without sideways scrolling', async () => {
    const shot = screenshots('phone');
    const { context, page, errors } = await openContext(shot, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const fits = () => page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth');
    await page.goto(store.url);
    await page.locator('.product-card').first().waitFor();
    expect(await fits()).toBe(true);
    await shot(page, 'home');
    await page.goto(`${store.url}/#/product/449`);
    await page.getByRole('button', { name: 'Add to cart' }).waitFor();
    expect(await fits()).toBe(true);
    await shot(page, 'product');
    await page.getByRole('button', { name: 'Add to cart' }).tap();
    await page.getByText('Added 1 × Two-seat sofa to your cart.').first().waitFor();
    await page.goto(`${store.url}/#/cart`);
    await page.locator('.cart-line').first().waitFor();
    expect(await fits()).toBe(true);
    await shot(page, 'cart');
    await page.goto(`${store.url}/#/checkout`);
    await page.getByLabel('Card number').waitFor();
    expect(await fits()).toBe(true);
    await shot(page, 'checkout');
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  it('when the built page is served, then it has no inline script or style for the CSP to refuse', async () => {
    const res = await fetch(`${store.url}/`);
    // The gateway's policy: the app's own scripts and styles, API calls here and to the card processor.
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain(new URL(store.processorUrl).origin);
    const html = await res.text();
    expect(html).toMatch(/<script type="module" crossorigin src="\/assets\/[^"]+\.js"><\/script>/);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style[\s>]/);
    expect(html).not.toMatch(/\sstyle="/);
  });
});
