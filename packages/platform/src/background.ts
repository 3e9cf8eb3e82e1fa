import type { Logger } from './logger';

/** Runs `task` every `intervalMs` until stopped; a failing run is logged and retried next tick. */
export function every(intervalMs: number, logger: Logger, name: string, task: () => Promise<unknown>): () => () => Promise<void> {
  return () => {
    let running: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      running = running.then(task).catch((error: unknown) => logger.warn({ err: error, task: name }, 'background task failed'));
    }, intervalMs);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await running;
    };
  };
}
