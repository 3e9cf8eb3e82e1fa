import { useEffect, useState } from 'react';
import type { Product } from '@emporium/contracts';
import { ApiError } from '../lib/api';
import { hrefOf } from '../lib/router';
import { useStore } from '../state';
import { ErrorMessage, Loading, Page } from '../components/page';
import { ProductGrid } from '../components/product-card';

interface ProductPage {
  items: Product[];
  total: number;
}
interface Categories {
  items: Array<{ category: string; products: number }>;
}

const titleOf = (slug: string) => slug.replace(/-/g, ' ').replace(/^./, (c) => c.toUpperCase());

function useFetch<T>(path: string | undefined): { data: T | undefined; error: string | undefined } {
  const { api } = useStore();
  const [state, setState] = useState<{ data: T | undefined; error: string | undefined }>({ data: undefined, error: undefined });
  useEffect(() => {
    if (!path) return;
    const controller = new AbortController();
    setState({ data: undefined, error: undefined });
    api.request<T>('GET', path, { signal: controller.signal }).then(
      (data) => setState({ data, error: undefined }),
      (error: unknown) => {
        if (!controller.signal.aborted) setState({ data: undefined, error: error instanceof ApiError ? error.message : 'Something went wrong loading this page.' });
      },
    );
    return () => controller.abort();
  }, [api, path]);
  return state;
}

function CategoryList() {
  const { data, error } = useFetch<Categories>('/products/categories');
  if (error) return <ErrorMessage>{error}</ErrorMessage>;
  if (!data) return <Loading what="categories" />;
  return (
    <ul className="category-list">
      {data.items.map((c) => (
        <li key={c.category}>
          <a href={hrefOf({ name: 'category', category: c.category })}>
            {titleOf(c.category)} <span className="muted">({c.products})</span>
          </a>
        </li>
      ))}
    </ul>
  );
}

export function HomeView() {
  const { data, error } = useFetch<ProductPage>('/products?sort=newest&limit=8');
  return (
    <Page title="Welcome to Emporium">
      <p className="lead">Lamps, furniture, kitchenware and more — delivered to your door. New here? Use code WELCOME10 for 10% off.</p>
      <h2>Shop by category</h2>
      <CategoryList />
      <h2>Featured products</h2>
      <ErrorMessage>{error}</ErrorMessage>
      {data ? <ProductGrid products={data.items} /> : !error && <Loading what="products" />}
    </Page>
  );
}

export function BrowseView() {
  return (
    <Page title="Browse by category">
      <CategoryList />
    </Page>
  );
}

export function CategoryView({ category }: { category: string }) {
  const { data, error } = useFetch<ProductPage>(`/products?category=${encodeURIComponent(category)}&limit=100`);
  return (
    <Page title={titleOf(category)}>
      <p>
        <a href="#/browse">All categories</a>
      </p>
      <ErrorMessage>{error}</ErrorMessage>
      {data ? data.items.length > 0 ? <ProductGrid products={data.items} /> : <p>No products in this category yet.</p> : !error && <Loading what="products" />}
    </Page>
  );
}

export function SearchView({ q }: { q: string }) {
  const { data, error } = useFetch<ProductPage>(q ? `/products?q=${encodeURIComponent(q)}&limit=50` : undefined);
  const { announce } = useStore();
  useEffect(() => {
    if (data) announce(`${data.total} ${data.total === 1 ? 'product' : 'products'} found for “${q}”.`);
  }, [data, q, announce]);
  return (
    <Page title={q ? `Search results for “${q}”` : 'Search'}>
      {!q && <p>Type what you are looking for in the search box above.</p>}
      <ErrorMessage>{error}</ErrorMessage>
      {q && data && (
        <>
          <p className="muted">
            {data.total} {data.total === 1 ? 'product' : 'products'} found.
          </p>
          {data.items.length > 0 ? <ProductGrid products={data.items} /> : <p>Nothing matches “{q}”. Try another word, or <a href="#/browse">browse the categories</a>.</p>}
        </>
      )}
      {q && !data && !error && <Loading what="results" />}
    </Page>
  );
}

export { useFetch };
