import { readFile, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { AppError, type HttpApp } from '@emporium/platform';

export interface StorefrontOptions {
  /** The built storefront (`apps/storefront/dist`): `index.html` and `assets/`. */
  root: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
};

/** Hashed file names change with their content, so they can be cached for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * Serves the web storefront: `index.html` at `/` (always revalidated, so a new build shows at
 * once) and the hashed files of the build under `/assets/*`. Client routes are hash routes
 * (`/#/product/456`), so no other path is needed and none collides with the API's.
 */
export function registerStorefront(app: HttpApp, options: StorefrontOptions): void {
  const root = resolve(options.root);
  const assets = resolve(root, 'assets');

  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    let html: Buffer;
    try {
      html = await readFile(resolve(root, 'index.html'));
    } catch (error) {
      throw new AppError('STOREFRONT.NOT_BUILT', 'The storefront is not built on this server; run `npm run build`.', { status: 503, cause: error });
    }
    return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(html);
  });

  app.get('/assets/*', { schema: { hide: true } }, async (request, reply) => {
    const rest = (request.params as { '*': string })['*'];
    const file = resolve(assets, rest);
    const missing = () => new AppError('STOREFRONT.NOT_FOUND', `No file ${request.url.split('?')[0]} in the storefront.`, { status: 404 });
    // resolve() has already collapsed any `..`: whatever lands outside assets/ was a traversal.
    if (rest.includes('\0') || !file.startsWith(assets + sep)) throw missing();
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw missing();
    const body = await readFile(file);
    return reply
      .header('cache-control', IMMUTABLE)
      .header('last-modified', info.mtime.toUTCString())
      .type(CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream')
      .send(body);
  });
}
