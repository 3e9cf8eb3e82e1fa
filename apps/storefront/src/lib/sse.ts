/**
 * A server-sent events parser (the WHATWG event-stream format), fed text as it arrives.
 * EventSource cannot send an Authorization header, so the order page reads the stream with
 * fetch() and this parser.
 */
export interface SseEvent {
  /** `message` unless the stream named it with `event:`. */
  event: string;
  data: string;
  id: string | undefined;
}

export interface SseParser {
  /** Feed the next piece of text; complete events are delivered to the callback. */
  push(chunk: string): void;
  /** The stream ended: an event without its closing blank line is dropped, as the spec says. */
  end(): void;
  /** The last `retry:` the server asked for, in milliseconds. */
  readonly retryMs: number | undefined;
  /** The last event id seen (for `Last-Event-ID` on reconnect). */
  readonly lastEventId: string | undefined;
}

export function createSseParser(onEvent: (event: SseEvent) => void): SseParser {
  let buffer = '';
  let data: string[] = [];
  let eventName = '';
  let lastEventId: string | undefined;
  let retryMs: number | undefined;
  let first = true;

  const dispatch = () => {
    if (data.length > 0) onEvent({ event: eventName || 'message', data: data.join('\n'), id: lastEventId });
    data = [];
    eventName = '';
  };

  const line = (text: string) => {
    if (text === '') return dispatch();
    if (text.startsWith(':')) return; // a comment, e.g. the `: ping` heartbeat
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        eventName = value;
        break;
      case 'data':
        data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) retryMs = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
  };

  return {
    push(chunk) {
      if (first) {
        first = false;
        if (chunk.startsWith('\uFEFF')) chunk = chunk.slice(1);
      }
      buffer += chunk;
      for (;;) {
        const match = /\r\n|\r|\n/.exec(buffer);
        if (!match) break;
        // A lone \r at the very end may be the first half of \r\n: wait for the next chunk.
        if (match[0] === '\r' && match.index === buffer.length - 1) break;
        line(buffer.slice(0, match.index));
        buffer = buffer.slice(match.index + match[0].length);
      }
    },
    end() {
      if (buffer.endsWith('\r')) {
        line(buffer.slice(0, -1));
        buffer = '';
      }
      buffer = '';
      data = [];
      eventName = '';
    },
    get retryMs() {
      return retryMs;
    },
    get lastEventId() {
      return lastEventId;
    },
  };
}

/** Reads a byte stream to its end, delivering events; resolves when the server closes it. */
export async function readSseStream(body: ReadableStream<Uint8Array>, onEvent: (event: SseEvent) => void, signal?: AbortSignal): Promise<void> {
  const parser = createSseParser(onEvent);
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const abort = () => void reader.cancel().catch(() => undefined);
  signal?.addEventListener('abort', abort, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.push(decoder.decode(value, { stream: true }));
    }
    parser.push(decoder.decode());
    parser.end();
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}
