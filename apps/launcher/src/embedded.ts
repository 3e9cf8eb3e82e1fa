import type { AddressInfo } from 'node:net';
import { createInProcessBus, createLogger, createMetrics, createTokenVerifier, openPglite, type InProcessBus, type Service, type ServiceDeps, type SharedPglite } from '@emporium/platform';
import { createCatalogService } from '@emporium/catalog';
import { createCartService } from '@emporium/cart';
import { createInventoryService } from '@emporium/inventory';
import { createOrdersService } from '@emporium/orders';
import { createPaymentsService } from '@emporium/payments';
import { createShippingService } from '@emporium/shipping';
import { createGateway, type GatewayOptions } from '@emporium/gateway';
import { createIdentityService, type IdentityOptions } from '@emporium/identity';
import { startCardProcessor, type CardProcessor } from '@emporium/sandbox-card-processor';
import { seedDemo } from './seed';

export interface EmbeddedOptions {
  /** Folder for the embedded database; undefined keeps everything in memory (tests). */
  dataDir?: string;
  port?: number;
  host?: string;
  logLevel?: string;
  seed?: boolean;
  /** Passed to orders: how long stock stays reserved for an unpaid order. */
  reservationTtlMs?: number;
  /** The first admin (created if missing); seeding signs in as them. Required with `seed`. */
  admin?: { email: string; password: string };
  /** Passed to identity (token lifetimes, key rotation). */
  identity?: Omit<IdentityOptions, 'admin'>;
  /** Passed to the gateway (rate limits for load tests, CORS). */
  gateway?: Pick<GatewayOptions, 'rateLimits' | 'corsOrigins'>;
  /** The built storefront the gateway serves at `/` (see `ensureStorefrontBuilt`). */
  storefrontDir?: string;
}

export interface EmbeddedPlatform {
  url: string;
  services: Record<string, { url: string; service: Service }>;
  seeded: boolean;
  /** The shared embedded database (a schema per service) and bus: for staff tooling and tests (replay, lag). */
  pglite: SharedPglite;
  bus: InProcessBus;
  /** Stand-ins for third parties, speaking their real protocol: the card processor (Stripe API) the storefront tokenizes cards with. */
  sandboxes: { cardProcessor: { url: string; publishableKey: string } };
  stop(): Promise<void>;
}

/**
 * Every service in this one process, as `npm start` runs them: one embedded PostgreSQL (PGlite)
 * with a schema per service, the durable in-process bus, each service on its own loopback port
 * and the gateway on the public one.
 */
export async function startEmbedded(options: EmbeddedOptions = {}): Promise<EmbeddedPlatform> {
  const level = (options.logLevel ?? 'info') as 'info';
  const host = options.host ?? '127.0.0.1';
  const pglite = await openPglite(options.dataDir);
  const bus = createInProcessBus({ db: pglite.forSchema('bus'), logger: createLogger('bus', level) });
  await bus.migrate();

  const deps = (name: string): ServiceDeps => ({
    db: pglite.forSchema(name),
    bus,
    logger: createLogger(name, level),
    metrics: createMetrics(name, { defaultMetrics: name === 'gateway' }),
  });

  const running: Record<string, { url: string; service: Service }> = {};
  const launch = async (service: Service) => {
    await service.start();
    await service.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = service.app.server.address() as AddressInfo;
    running[service.name] = { url: `http://127.0.0.1:${port}`, service };
    return running[service.name]!.url;
  };

  let cardProcessor: CardProcessor | undefined;
  try {
    await launch(await createCatalogService(deps('catalog')));
    await launch(await createInventoryService(deps('inventory')));
    const cartUrl = await launch(await createCartService(deps('cart')));
    cardProcessor = await startCardProcessor({ db: pglite.forSchema('card_processor'), logger: createLogger('card-processor', level) });
    await launch(await createPaymentsService(deps('payments'), { processor: { url: cardProcessor.url, secretKey: cardProcessor.secretKey } }));
    await launch(await createShippingService(deps('shipping')));
    await launch(await createIdentityService(deps('identity'), { ...options.identity, admin: options.admin }));
    await launch(await createOrdersService(deps('orders'), { cartUrl, reservationTtlMs: options.reservationTtlMs }));
  } catch (error) {
    await Promise.all(Object.values(running).map((r) => r.service.stop()));
    await cardProcessor?.stop();
    await bus.close();
    await pglite.close();
    throw error;
  }

  const gatewayDeps = deps('gateway');
  const gateway = await createGateway({
    logger: gatewayDeps.logger,
    metrics: gatewayDeps.metrics,
    upstreams: {
      catalog: running.catalog!.url,
      cart: running.cart!.url,
      inventory: running.inventory!.url,
      orders: running.orders!.url,
      payments: running.payments!.url,
      shipping: running.shipping!.url,
      identity: running.identity!.url,
    },
    verifier: createTokenVerifier({
      jwksUrl: `${running.identity!.url}/.well-known/jwks.json`,
      issuer: options.identity?.issuer ?? process.env.IDENTITY_ISSUER ?? 'https://emporium.dev/identity',
      audience: options.identity?.audience ?? process.env.IDENTITY_AUDIENCE ?? 'emporium',
    }),
    // The storefront tokenizes cards straight at the processor (the CSP allows its origin).
    paymentProcessor: { url: cardProcessor!.url, publishableKey: cardProcessor!.publishableKey },
    ...options.gateway,
    storefrontDir: options.storefrontDir,
  });
  await gateway.app.listen({ port: options.port ?? 3000, host });
  const { port } = gateway.app.server.address() as AddressInfo;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;

  let seeded = false;
  if (options.seed) {
    if (!options.admin) throw new Error('seeding the demo store needs an admin (options.admin)');
    seeded = await seedDemo(url, options.admin);
  }

  let stopped = false;
  return {
    url,
    services: running,
    seeded,
    pglite,
    bus,
    sandboxes: { cardProcessor: { url: cardProcessor.url, publishableKey: cardProcessor.publishableKey } },
    async stop() {
      if (stopped) return;
      stopped = true;
      await gateway.close();
      for (const name of ['orders', 'identity', 'shipping', 'payments', 'cart', 'inventory', 'catalog']) await running[name]?.service.stop();
      await cardProcessor.stop();
      await bus.close();
      await pglite.close();
    },
  };
}
