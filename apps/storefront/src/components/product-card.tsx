import type { Product } from '@emporium/contracts';
import { hrefOf } from '../lib/router';
import { Price } from './money';

/** Products have no images yet: a tile with the product's initials in its category's colour. */
export function ProductImage({ name, category, large }: { name: string; category: string; large?: boolean }) {
  const initials = name
    .split(/\s+/)
    .slice(0, 2)
    .map((w) => w[0]?.toUpperCase() ?? '')
    .join('');
  let hash = 0;
  for (const ch of category) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return (
    <div className={`product-image ${category ? `tile-${hash % 8}` : ''}${large ? ' large' : ''}`} aria-hidden="true">
      {initials}
    </div>
  );
}

export function ProductGrid({ products }: { products: Product[] }) {
  return (
    <ul className="product-grid">
      {products.map((p) => (
        <li key={p.id} className="product-card">
          <ProductImage name={p.name} category={p.category} />
          <h2 className="product-name">
            <a href={hrefOf({ name: 'product', id: p.id })}>{p.name}</a>
          </h2>
          <p className="muted small">{p.category}</p>
          <p>
            <Price amount={p.price.amount} currency={p.price.currency} />
          </p>
        </li>
      ))}
    </ul>
  );
}
