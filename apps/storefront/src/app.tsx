import { useEffect, useState, type FormEvent } from 'react';
import { hrefOf, navigate, parseRoute, type Route } from './lib/router';
import { StoreProvider, useStore } from './state';
import { BrowseView, CategoryView, HomeView, SearchView } from './views/catalog';
import { ProductView } from './views/product';
import { CartView } from './views/cart';
import { CheckoutView } from './views/checkout';
import { OrderView, OrdersView } from './views/orders';
import { SignInView, SignUpView } from './views/account';
import { Page } from './components/page';

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

function Header({ route }: { route: Route }) {
  const { session, cart, api, announce } = useStore();
  const [q, setQ] = useState(route.name === 'search' ? route.q : '');
  useEffect(() => {
    if (route.name === 'search') setQ(route.q);
  }, [route]);
  const search = (event: FormEvent) => {
    event.preventDefault();
    if (q.trim()) navigate({ name: 'search', q: q.trim() });
  };
  const signOut = async () => {
    await api.signOut();
    announce('You are signed out.');
    navigate({ name: 'home' });
  };
  const count = cart?.itemCount ?? 0;
  return (
    <header className="site-header">
      <a className="skip-link" href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById('page-heading')?.focus();
      }}>
        Skip to content
      </a>
      <div className="header-row">
        <a className="brand" href="#/">
          Emporium
        </a>
        <form className="search-form" role="search" onSubmit={search}>
          <label htmlFor="site-search" className="visually-hidden">
            Search products
          </label>
          <input id="site-search" type="search" placeholder="Search products" value={q} onChange={(e) => setQ(e.target.value)} />
          <button type="submit">Search</button>
        </form>
      </div>
      <nav aria-label="Main">
        <ul className="nav-list">
          <li>
            <a href="#/browse" aria-current={route.name === 'browse' || route.name === 'category' ? 'page' : undefined}>
              Browse
            </a>
          </li>
          <li>
            <a href="#/orders" aria-current={route.name === 'orders' ? 'page' : undefined}>
              Orders
            </a>
          </li>
          <li>
            <a href="#/cart" aria-current={route.name === 'cart' ? 'page' : undefined} className="cart-link">
              Cart <span className="badge" aria-label={`${count} ${count === 1 ? 'item' : 'items'}`}>{count}</span>
            </a>
          </li>
          {session?.kind === 'customer' ? (
            <>
              <li className="muted account-name">Hi, {session.customer?.name ?? 'there'}</li>
              <li>
                <button type="button" className="link-button" onClick={() => void signOut()}>
                  Sign out
                </button>
              </li>
            </>
          ) : (
            <>
              <li>
                <a href="#/signin" aria-current={route.name === 'signin' ? 'page' : undefined}>
                  Sign in
                </a>
              </li>
              <li>
                <a href="#/signup" aria-current={route.name === 'signup' ? 'page' : undefined}>
                  Create account
                </a>
              </li>
            </>
          )}
        </ul>
      </nav>
    </header>
  );
}

function Screen({ route }: { route: Route }) {
  switch (route.name) {
    case 'home':
      return <HomeView />;
    case 'browse':
      return <BrowseView />;
    case 'category':
      return <CategoryView category={route.category} />;
    case 'search':
      return <SearchView q={route.q} />;
    case 'product':
      return <ProductView id={route.id} />;
    case 'cart':
      return <CartView />;
    case 'checkout':
      return <CheckoutView />;
    case 'order':
      return <OrderView id={route.id} placed={route.placed} />;
    case 'orders':
      return <OrdersView />;
    case 'signin':
      return <SignInView next={route.next} />;
    case 'signup':
      return <SignUpView next={route.next} />;
    case 'not-found':
      return (
        <Page title="Page not found">
          <p>
            There is nothing at this address. <a href="#/">Go to the home page</a>.
          </p>
        </Page>
      );
  }
}

function Shell() {
  const route = useRoute();
  const { announcement } = useStore();
  return (
    <>
      <Header route={route} />
      <div className="status-bar" role="status" aria-live="polite" aria-atomic="true">
        {announcement}
      </div>
      <main id="main">
        {/* A key per route remounts the screen, so its heading takes the focus. */}
        <Screen key={hrefOf(route)} route={route} />
      </main>
      <footer className="site-footer">
        <p>Emporium demo store · prices include VAT · test cards only</p>
      </footer>
    </>
  );
}

export function App() {
  return (
    <StoreProvider>
      <Shell />
    </StoreProvider>
  );
}
