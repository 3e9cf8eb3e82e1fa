import { AppError, createVacuumSchedule, type Logger } from '@emporium/platform';
import { authorizePayment } from '../domain/authorize-payment';
import { capturePayment } from '../domain/capture-payment';
import { unchanged, type Payment, type PaymentOutcome } from '../domain/payment';
import { releasePayment } from '../domain/release-payment';
import type { DueCall, PaymentsStore, ProviderCall } from '../store/payments.store';
import type { PaymentProvider } from './provider';

type Method = 'authorize' | 'capture' | 'void' | 'refund';
interface Recorded {
  method: Method;
  request: string;
  result: unknown;
}

/** The provider, with every call and its answer written down. */
export function recording(provider: PaymentProvider): { provider: PaymentProvider; calls: Recorded[] } {
  const calls: Recorded[] = [];
  const record = <R>(method: Method, request: object, call: () => Promise<R>) =>
    call().then((result) => {
      calls.push({ method, request: JSON.stringify(request), result });
      return result;
    });
  return {
    calls,
    provider: {
      name: provider.name,
      authorize: (r) => record('authorize', r, () => provider.authorize(r)),
      capture: (r) => record('capture', r, () => provider.capture(r)),
      void: (r) => record('void', r, () => provider.void(r)),
      refund: (r) => record('refund', r, () => provider.refund(r)),
    },
  };
}

/** The payment changed between the call and its recording: the use case asks for another call. */
export class StaleProviderCall extends AppError {
  constructor(method: string) {
    super('PAYMENTS.CONCURRENT_CHANGE', `The payment changed while the processor was being called (${method}); try again.`, { status: 409 });
  }
}

/** Answers from what `recording` wrote down, touching nothing remote: safe inside a transaction. */
export function replaying(name: string, calls: readonly Recorded[]): PaymentProvider {
  const replay = <R>(method: Method, request: object): Promise<R> => {
    const found = calls.find((c) => c.method === method && c.request === JSON.stringify(request));
    return found ? Promise.resolve(found.result as R) : Promise.reject(new StaleProviderCall(method));
  };
  return {
    name,
    authorize: (r) => replay('authorize', r),
    capture: (r) => replay('capture', r),
    void: (r) => replay('void', r),
    refund: (r) => replay('refund', r),
  };
}

/**
 * Runs a use case that calls the processor without holding a database transaction across the
 * call: first on a snapshot with the real provider (outside any transaction), then on the locked
 * payment, answered from what the processor said. Every call carries an idempotency key derived
 * from the payment, so repeating the first half after a crash or a conflict is answered the same.
 */
export async function callOutsideTransaction<T>(
  provider: PaymentProvider,
  snapshot: Payment,
  useCase: (payment: Payment, provider: PaymentProvider) => Promise<PaymentOutcome>,
  commit: (change: (locked: Payment) => Promise<PaymentOutcome>) => Promise<T>,
): Promise<T> {
  const recorder = recording(provider);
  await useCase(snapshot, recorder.provider);
  return commit((locked) => useCase(locked, replaying(provider.name, recorder.calls)));
}

const USE_CASES: Record<ProviderCall['kind'], (payment: Payment, request: ProviderCall['request'], provider: PaymentProvider, now: Date) => Promise<PaymentOutcome>> = {
  authorize: (payment, request, provider, now) =>
    payment.status === 'authorizing' ? authorizePayment(payment, String(request.token), provider, now) : Promise.resolve(unchanged(payment)),
  capture: (payment, request, provider, now) => capturePayment(payment, { amount: Number(request.amount), currency: String(request.currency) }, provider, now),
  release: (payment, _request, provider, now) => releasePayment(payment, provider, now, { refundCaptured: true }),
  cancel: (payment, request, provider, now) => releasePayment(payment, provider, now, { refundCaptured: request.refundCaptured === true }),
};

export interface ProviderCallsOptions {
  store: PaymentsStore;
  provider: PaymentProvider;
  logger: Logger;
  /**
   * How often due calls are looked for: calls waiting for a retry, and any whose queuing instance
   * stopped before making them. A newly queued call is made at once by the instance that queued it
   * (`drain`, after its transaction commits). Default 1 s.
   */
  pollIntervalMs?: number;
  /** The worker vacuums `provider_calls` after this many calls ended (default 1,000), or at a poll a minute after the last time. */
  vacuumAfterCalls?: number;
  /** Calls of different payments with the processor at once (default DEFAULT_CALLS_AT_ONCE). */
  callsAtOnce?: number;
}

/**
 * Calls of different payments go to the processor side by side, up to this many at once: made one
 * at a time, every payment's call waited for the round trips (processor and database) of all the
 * calls before it. A payment's own calls stay in order (dueCalls gives only the oldest of each
 * payment, and a call stays listed until it is done). A call holds no database connection while it
 * is with the processor, so the limit is the processor's: with 8, calls queued behind the slots
 * whenever calls slowed down (payments' handling p50 1.4 and 4.7 s at 50 checkouts/s offered on a
 * busy machine, 0.6 s with 32, and no better with 64; bench/RESULTS.md, session 26). At Stripe's few
 * hundred milliseconds a call, 32 at once are about 60 calls a second per instance.
 */
export const DEFAULT_CALLS_AT_ONCE = 32;

/** At most this long between two vacuums of `provider_calls` while calls are being made. */
const VACUUM_INTERVAL_MS = 60_000;

const backoffMs = (attempts: number) => Math.min(500 * 2 ** Math.min(attempts, 10), 60_000);

/**
 * Makes the processor calls events asked for (`provider_calls`), after their transaction
 * commits. A processor that cannot be reached leaves the call waiting, retried with backoff:
 * the order waits for its payment rather than failing.
 */
export function createProviderCalls({ store, provider, logger, pollIntervalMs = 1000, vacuumAfterCalls = 1000, callsAtOnce = DEFAULT_CALLS_AT_ONCE }: ProviderCallsOptions) {
  const log = logger.child({ component: 'provider-calls' });

  /** Makes one call and records its answer; true when it is due again at once (a stale answer). */
  const runOne = async (call: DueCall): Promise<boolean> => {
    const snapshot = call.payment;
    if (!snapshot) return false;
    const useCase = (payment: Payment, p: PaymentProvider) => USE_CASES[call.kind](payment, call.request, p, new Date());
    let outcome: PaymentOutcome | undefined;
    try {
      outcome = await callOutsideTransaction(provider, snapshot, useCase, (change) => store.completeCall(call, change));
    } catch (error) {
      const stale = error instanceof StaleProviderCall;
      await store.postponeCall(call.id, stale ? 0 : backoffMs(call.attempts), stale ? call.attempts : call.attempts + 1, String(error));
      if (!stale) log.warn({ err: error, paymentId: call.paymentId, kind: call.kind, attempts: call.attempts + 1 }, 'card processor call failed; will retry');
      return stale;
    }
    if (!outcome) return false;
    const context = { paymentId: call.paymentId, orderId: outcome.payment.orderId, kind: call.kind, correlationId: call.correlationId };
    if (call.kind === 'authorize') log.info({ ...context, status: outcome.payment.status, code: outcome.payment.declineCode }, 'payment authorization answered');
    else if (outcome.failure && call.kind === 'capture') log.warn({ ...context, ...outcome.failure }, 'capture failed');
    else if (outcome.failure) log.error({ ...context, ...outcome.failure }, 'provider refused to release the payment; needs staff attention');
    return false;
  };

  /** Calls being made, by id: looks leave them out. */
  const inFlight = new Map<number, Promise<void>>();
  let looking: Promise<void> | undefined;
  let lookAgain = false;
  /** A look found more due calls than it could start: look again as soon as one ends. */
  let leftOver = false;
  let stopped = false;

  const start = (call: DueCall): void => {
    const made = runOne(call)
      .catch((error: unknown) => {
        log.warn({ err: error, paymentId: call.paymentId, kind: call.kind }, 'provider call could not be made or postponed; the next look finds it');
        return false;
      })
      .then((dueAgain) => {
        inFlight.delete(call.id);
        if ((dueAgain || leftOver) && !stopped) void look();
        if (vacuumSchedule.deleted(1)) void vacuum();
      });
    inFlight.set(call.id, made);
  };

  /**
   * Looks for due calls and starts those not being made yet, without waiting for the calls already
   * under way: a call queued while others are with the processor starts at once (up to
   * callsAtOnce), rather than after the slowest of them. One look at a time; a wake-up during a
   * look makes it look again right after. A look reads only calls it could start: behind a backlog,
   * every ended call brings a look, and reading the calls under way again (with their payments) each
   * time made a payments instance slower the further behind it was.
   */
  const look = (): Promise<void> => {
    if (looking) {
      lookAgain = true;
      return looking;
    }
    looking = (async () => {
      do {
        lookAgain = false;
        leftOver = false;
        if (inFlight.size >= callsAtOnce) {
          leftOver = true;
          return;
        }
        // As many as there is room for, and one more to learn whether more are waiting. The calls
        // under way are left out, so one that ends while the look runs cannot be listed as due again.
        const limit = callsAtOnce - inFlight.size + 1;
        const due = await store.dueCalls(limit, [...inFlight.keys()]);
        for (const call of due) {
          if (stopped) return;
          if (inFlight.has(call.id)) continue;
          if (inFlight.size >= callsAtOnce) {
            leftOver = true;
            break;
          }
          start(call);
        }
        // An answer cut at the room there was may leave calls waiting: look again now if places freed
        // while the look ran, or else when the next call ends.
        if (due.length === limit) {
          if (inFlight.size < callsAtOnce) lookAgain = true;
          else leftOver = true;
        }
      } while (lookAgain);
    })()
      .catch((error: unknown) => log.warn({ err: error }, 'looking for due provider calls failed'))
      .finally(() => {
        looking = undefined;
        // A wake-up after the loop's last check, while this look was ending, found it still
        // running and only asked for another round: look again, or its call waits for the next
        // wake-up (about 200 ms at 5 checkouts/s, the tail of payments' handling in the bench).
        if (lookAgain && !stopped) void look();
      });
    return looking;
  };

  /**
   * Every call ends by deleting or updating its row, and a look walks the calls' primary key from its
   * start: without a vacuum it walked every call ever made (12 ms a look after 200,000 calls, 281
   * pages read for three live rows). The worker vacuums the table as the outbox's relay does its own.
   */
  const vacuumSchedule = createVacuumSchedule({ afterRows: vacuumAfterCalls, intervalMs: VACUUM_INTERVAL_MS });
  let vacuuming: Promise<void> | undefined;
  const vacuum = (): Promise<void> =>
    (vacuuming ??= vacuumSchedule
      .run(() => store.vacuumCalls())
      .catch((error: unknown) => log.warn({ err: error }, 'vacuuming provider_calls failed; the next poll tries again'))
      .finally(() => {
        vacuuming = undefined;
      }));

  /** Resolves once no call is being made or looked for, and no vacuum runs. */
  const settled = async (): Promise<void> => {
    while (looking || inFlight.size > 0 || vacuuming) await Promise.all([looking, vacuuming, ...inFlight.values()]);
  };

  return {
    /** A transaction that queued a call has committed: makes it now (unless the task has stopped). */
    queued(): void {
      if (!stopped) void look();
    },
    /** For `defineService`'s background: starts polling; resolves its stop function. */
    task: () => () => {
      stopped = false;
      const timer = setInterval(() => {
        void look();
        void vacuum();
      }, pollIntervalMs);
      timer.unref();
      void look();
      return async () => {
        stopped = true;
        clearInterval(timer);
        await settled();
      };
    },
  };
}
