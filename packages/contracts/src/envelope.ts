import { randomUUID } from 'node:crypto';
import { z } from 'zod';

/** Every event on every topic travels in this envelope (DESIGN.md, "Events"). */
export const EventEnvelope = z.object({
  id: z.uuid(),
  type: z.string().regex(/^[a-z]+(_[a-z]+)*$/),
  version: z.number().int().positive(),
  occurredAt: z.iso.datetime({ offset: true }),
  source: z.string(),
  key: z.string(),
  correlationId: z.string(),
  traceparent: z.string().optional(),
  data: z.unknown(),
});
export type EventEnvelope<D = unknown> = Omit<z.infer<typeof EventEnvelope>, 'data'> & { data: D };

export interface NewEvent<D> {
  type: string;
  version?: number;
  source: string;
  key: string;
  correlationId?: string;
  traceparent?: string;
  data: D;
}

export function makeEnvelope<D>(event: NewEvent<D>): EventEnvelope<D> {
  const id = randomUUID();
  return {
    id,
    type: event.type,
    version: event.version ?? 1,
    occurredAt: new Date().toISOString(),
    source: event.source,
    key: event.key,
    correlationId: event.correlationId ?? id,
    ...(event.traceparent ? { traceparent: event.traceparent } : {}),
    data: event.data,
  };
}
