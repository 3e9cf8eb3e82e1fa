import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The storefront's package folder and its build output. */
export const STOREFRONT_APP = resolve(dirname(fileURLToPath(import.meta.url)), '../../storefront');
export const STOREFRONT_DIST = join(STOREFRONT_APP, 'dist');

const SOURCES = ['src', 'index.html', 'vite.config.ts', 'package.json'];

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** True when `dist/index.html` is missing or older than any source file of the storefront. */
export function storefrontIsStale(app = STOREFRONT_APP): boolean {
  const built = join(app, 'dist', 'index.html');
  if (!existsSync(built)) return true;
  const builtAt = statSync(built).mtimeMs;
  return SOURCES.some((s) => newestMtime(join(app, s)) > builtAt);
}

/**
 * Builds the storefront with Vite when its build is missing or stale (a second or two), so
 * `npm install && npm start` serves it with no further step. Returns the folder to serve.
 */
export function ensureStorefrontBuilt(log: (message: string) => void = () => undefined): string {
  if (!storefrontIsStale()) return STOREFRONT_DIST;
  let vite: string;
  try {
    vite = join(dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
  } catch {
    // An install without dev dependencies: serve the build that is there, if any.
    if (existsSync(join(STOREFRONT_DIST, 'index.html'))) {
      log('The storefront build may be stale, and Vite is not installed to rebuild it (npm install).');
      return STOREFRONT_DIST;
    }
    throw new Error('The storefront is not built and Vite is not installed to build it: run `npm install`, then `npm run build`.');
  }
  log('Building the storefront (apps/storefront) …');
  const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: STOREFRONT_APP, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) throw new Error(`building the storefront failed (vite exited with ${result.status ?? result.signal})`);
  return STOREFRONT_DIST;
}
