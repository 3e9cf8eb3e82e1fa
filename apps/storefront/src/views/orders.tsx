import { useEffect, useRef, useState } from 'react';
import type { Cart, OrderView as Order } from '@emporium/contracts';
import { ApiError, newIdempotencyKey } from '../lib/api';
import { recentOrders, watchOrder } from '../lib/order-stream';
import { STATUS, statusLabel } from '../lib/order-status';
import { hrefOf } from '../lib/router';
import { useStore } from '../state';
import { ErrorMessage, Loading, Page } from '../components/page';
import { Price } from '../components/money';

const when = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/**
 * After a declined payment the shopper's cart must still hold what they tried to buy. The cart
 * service may already have taken the ordered units off (it does so on `order_placed` today), so
 * put back whatever is missing — at most once per order, and never more than was ordered.
 */
function useKeepCartOnFailure(order: Order | undefined) {
  const { api, cartPath, setCart, announce } = useStore();
  useEffect(() => {
    if (!order || order.status !== 'payment_failed') return;
    const flag = `emporium.cart-restored.${order.id}`;
    if (window.localStorage.getItem(flag)) return;
    window.localStorage.setItem(flag, '1');
    void (async () => {
      try {
        let cart = await api.request<Cart>('GET', cartPath());
        let restored = false;
        for (const item of order.items) {
          const have = cart.lines.find((l) => l.productId === item.productId)?.quantity ?? 0;
          if (have < item.quantity) {
            cart = await api.request<Cart>('PUT', cartPath(`/lines/${encodeURIComponent(item.productId)}`), { body: { quantity: item.quantity } });
            restored = true;
          }
        }
        if (order.discountCode && !cart.discount) {
          cart = await api.request<Cart>('POST', cartPath('/discount'), { body: { code: order.discountCode }, headers: { 'idempotency-key': newIdempotencyKey() } }).catch(() => cart);
          restored = true;
        }
        setCart(cart);
        if (restored) announce('Your cart still holds these items.');
      } catch {
        window.localStorage.removeItem(flag);
      }
    })();
  }, [order, api, cartPath, setCart, announce]);
}

function Timeline({ order }: { order: Order }) {
  return (
    <ol className="timeline" aria-label="Order history">
      {order.history.map((h, i) => (
        <li key={`${h.status}-${i}`} className={`tone-${STATUS[h.status]?.tone ?? 'wait'}`}>
          <strong>{statusLabel(h.status)}</strong> <span className="muted small">{when(h.at)}</span>
          {h.reason && <p className="small">{h.reason}</p>}
        </li>
      ))}
    </ol>
  );
}

export function OrderView({ id, placed }: { id: string; placed: boolean }) {
  const { api, refreshCart } = useStore();
  const [order, setOrder] = useState<Order | undefined>(() => recentOrders.get(id));
  const [error, setError] = useState<string>();
  const [mode, setMode] = useState<'stream' | 'polling'>();
  const lastStatus = useRef<string | undefined>(recentOrders.get(id)?.status);
  const [liveMessage, setLiveMessage] = useState('');

  useEffect(() => {
    const controller = new AbortController();
    void watchOrder(api, id, (next) => {
      setOrder(next);
      setError(undefined);
      if (lastStatus.current !== next.status) {
        if (lastStatus.current !== undefined) setLiveMessage(`Order status: ${statusLabel(next.status)}.${next.statusReason ? ` ${next.statusReason}` : ''}`);
        lastStatus.current = next.status;
      }
    }, controller.signal, {
      onMode: setMode,
      onError: (e) => {
        if (e instanceof ApiError && (e.status === 404 || e.status === 403)) setError('We could not find this order. It may belong to another account — sign in with the account that placed it.');
      },
    });
    return () => controller.abort();
  }, [api, id]);

  useKeepCartOnFailure(order);
  // The cart empties when the order is confirmed (and stays on a decline): keep the header's count true.
  useEffect(() => {
    if (order?.status) void refreshCart();
  }, [order?.status, refreshCart]);

  const failed = order !== undefined && STATUS[order.status]?.tone === 'bad';
  const title = placed ? 'Thank you for your order' : 'Your order';
  const heading = failed ? (order.status === 'payment_failed' ? 'Your payment did not go through' : 'Your order could not be completed') : title;
  if (error && !order) {
    return (
      <Page title="Order not found">
        <ErrorMessage>{error}</ErrorMessage>
      </Page>
    );
  }
  if (!order) {
    return (
      <Page title={title}>
        <Loading what="your order" />
      </Page>
    );
  }
  const tone = STATUS[order.status]?.tone ?? 'wait';
  return (
    <Page title={title} heading={heading}>
      <p>
        Order number <strong data-testid="order-id">{order.id}</strong>, placed {when(order.createdAt)}.
      </p>
      <div className={`status-box tone-${tone}`} data-testid="order-status" data-status={order.status} data-live={mode}>
        <p className="status-label">
          Status: <strong>{statusLabel(order.status)}</strong>
        </p>
        {order.statusReason && <p data-testid="status-reason">{order.statusReason}</p>}
        {order.status === 'payment_failed' && (
          <p>
            Nothing was charged, and your cart still holds these items. <a href="#/checkout">Try another card</a> or <a href="#/cart">review your cart</a>.
          </p>
        )}
        {!order.terminal && <p className="muted small">This page updates by itself{mode === 'polling' ? ' every few seconds' : ''} — no need to reload.</p>}
      </div>
      <div className="visually-hidden" role="status" aria-live="polite" aria-atomic="true">
        {liveMessage}
      </div>
      <h2>Items</h2>
      <table className="order-items">
        <thead>
          <tr>
            <th scope="col">Product</th>
            <th scope="col">Quantity</th>
            <th scope="col">Price</th>
          </tr>
        </thead>
        <tbody>
          {order.items.map((item) => (
            <tr key={item.productId}>
              <td>
                <a href={hrefOf({ name: 'product', id: item.productId })}>{item.name}</a>
              </td>
              <td>{item.quantity}</td>
              <td>
                <Price amount={item.lineTotal} currency={order.currency} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <dl className="totals">
        <div>
          <dt>Subtotal</dt>
          <dd>
            <Price amount={order.subtotal} currency={order.currency} />
          </dd>
        </div>
        {order.discount > 0 && (
          <div>
            <dt>Discount{order.discountCode ? ` (${order.discountCode})` : ''}</dt>
            <dd>
              − <Price amount={order.discount} currency={order.currency} />
            </dd>
          </div>
        )}
        <div className="grand-total">
          <dt>Total</dt>
          <dd>
            <Price amount={order.total} currency={order.currency} />
          </dd>
        </div>
      </dl>
      {order.shipment && (
        <p>
          Shipped with {order.shipment.carrier}, tracking number <strong>{order.shipment.trackingNumber}</strong>.
        </p>
      )}
      <h2>History</h2>
      <Timeline order={order} />
      <p>
        <a href="#/orders">All your orders</a>
      </p>
    </Page>
  );
}

export function OrdersView() {
  const { api, session } = useStore();
  const [orders, setOrders] = useState<Order[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (!session) return;
    const controller = new AbortController();
    api.request<{ items: Order[] }>('GET', '/api/orders?limit=50', { signal: controller.signal }).then(
      (list) => setOrders(list.items),
      (e: unknown) => {
        if (!controller.signal.aborted) setError(e instanceof ApiError ? e.message : 'Your orders could not be loaded.');
      },
    );
    return () => controller.abort();
  }, [api, session]);
  return (
    <Page title="Your orders">
      {session?.kind !== 'customer' && (
        <p className="notice">
          You are shopping as a guest: these are the orders of this browser. <a href="#/signin?next=%2Forders">Sign in</a> to see your account's orders.
        </p>
      )}
      <ErrorMessage>{error}</ErrorMessage>
      {!orders && !error && <Loading what="your orders" />}
      {orders && orders.length === 0 && <p>No orders yet.</p>}
      {orders && orders.length > 0 && (
        <table className="order-list">
          <thead>
            <tr>
              <th scope="col">Order</th>
              <th scope="col">Placed</th>
              <th scope="col">Status</th>
              <th scope="col">Total</th>
            </tr>
          </thead>
          <tbody>
            {orders.map((o) => (
              <tr key={o.id}>
                <td>
                  <a href={hrefOf({ name: 'order', id: o.id, placed: false })}>{o.id}</a>
                </td>
                <td>{when(o.createdAt)}</td>
                <td>{statusLabel(o.status)}</td>
                <td>
                  <Price amount={o.total} currency={o.currency} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
