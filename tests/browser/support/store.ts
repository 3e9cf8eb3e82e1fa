import type { BrowserContext } from 'playwright-core';
import { startEmbedded, type EmbeddedPlatform } from '../../../apps/launcher/src/embedded';
import { ensureStorefrontBuilt } from '../../../apps/launcher/src/storefront';
import { TEST_ADMIN } from '../../support/auth';
import { startStandInProcessor, type StandInProcessor } from './card-processor';
import { startCspProxy } from './csp-proxy';

export interface TestStore {
  /** Where the browser opens the store (the gateway, or the CSP-adding proxy in front of it). */
  url: string;
  platform: EmbeddedPlatform;
  /** Where the storefront tokenizes cards: the gateway's configured processor, or the stand-in. */
  processorUrl: string;
  usesStandInProcessor: boolean;
  /** Prepares a browser context for this store (see below). */
  prepare(context: BrowserContext): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The whole store in this process (in-memory, seeded demo catalog) on an ephemeral port, serving
 * a fresh build of the storefront.
 */
export async function startTestStore(): Promise<TestStore> {
  const storefrontDir = ensureStorefrontBuilt();
  const platform = await startEmbedded({ port: 0, logLevel: process.env.TEST_LOG_LEVEL ?? 'warn', seed: true, admin: TEST_ADMIN, storefrontDir });
  let standIn: StandInProcessor | undefined;
  let proxy: { url: string; close(): Promise<void> } | undefined;
  try {
    const configRes = await fetch(`${platform.url}/storefront/config.json`);
    const served = configRes.ok ? ((await configRes.json()) as { paymentProcessor: { url: string; publishableKey: string } | null }) : undefined;
    let config = served?.paymentProcessor ? served : undefined;
    if (!config) {
      // The store has no card processor configured (the sandbox is not wired in yet): stand in for it.
      standIn = await startStandInProcessor();
      config = { paymentProcessor: { url: standIn.url, publishableKey: standIn.publishableKey } };
      const home = await fetch(`${platform.url}/`);
      await home.body?.cancel();
      const fallbackCsp = `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'`;
      proxy = await startCspProxy(platform.url, { fallbackCsp, connectSources: [standIn.url] });
    }
    const processorUrl = config.paymentProcessor!.url;

    const url = proxy?.url ?? platform.url;
    return {
      url,
      platform,
      processorUrl,
      usesStandInProcessor: standIn !== undefined,
      async prepare(context) {
        if (standIn) {
          await context.route(`${url}/storefront/config.json`, (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(config) }));
        }
      },
      async stop() {
        await proxy?.close();
        await platform.stop();
        await standIn?.close();
      },
    };
  } catch (error) {
    await proxy?.close();
    await platform.stop();
    await standIn?.close();
    throw error;
  }
}
