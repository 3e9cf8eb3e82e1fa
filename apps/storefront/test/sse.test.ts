import { describe, expect, it } from 'vitest';
import { createSseParser, readSseStream, type SseEvent } from '../src/lib/sse';

const parse = (...chunks: string[]) => {
  const events: SseEvent[] = [];
  const parser = createSseParser((e) => events.push(e));
  for (const chunk of chunks) parser.push(chunk);
  parser.end();
  return { events, parser };
};

describe('server-sent events parser', () => {
  it('when a named event arrives whole, then its name and data are delivered', () => {
    const { events } = parse('event: order\ndata: {"id":"ord_1","status":"placed"}\n\n');
    expect(events).toEqual([{ event: 'order', data: '{"id":"ord_1","status":"placed"}', id: undefined }]);
  });

  it('when an event is split across chunks anywhere, then it is delivered once, intact', () => {
    const text = 'event: order\ndata: {"a":1}\n\nevent: order\ndata: {"a":2}\n\n';
    for (let cut = 1; cut < text.length; cut++) {
      const { events } = parse(text.slice(0, cut), text.slice(cut));
      expect(events.map((e) => e.data), `cut at ${cut}`).toEqual(['{"a":1}', '{"a":2}']);
    }
  });

  it('when lines end in CRLF or CR, then they parse the same, even with CRLF split between chunks', () => {
    expect(parse('data: x\r\n\r\n').events.map((e) => e.data)).toEqual(['x']);
    expect(parse('data: x\r\r').events.map((e) => e.data)).toEqual(['x']);
    expect(parse('data: x\r', '\n\r', '\n').events.map((e) => e.data)).toEqual(['x']);
  });

  it('when heartbeats (comments) come between events, then they are ignored', () => {
    const { events } = parse(': ping\n\n', 'event: order\n: ping\ndata: 1\n\n', ': ping\n\n');
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toBe('1');
  });

  it('when an event has several data lines, then they are joined with newlines', () => {
    expect(parse('data: a\ndata: b\ndata\n\n').events[0]!.data).toBe('a\nb\n');
  });

  it('when no event name is given, then it is a message; names do not leak into the next event', () => {
    const { events } = parse('event: order\ndata: 1\n\ndata: 2\n\n');
    expect(events.map((e) => e.event)).toEqual(['order', 'message']);
  });

  it('when id and retry are sent, then they are remembered; a bad retry is ignored', () => {
    const { events, parser } = parse('id: 7\nretry: 1500\ndata: x\n\nretry: soon\n\n');
    expect(events[0]!.id).toBe('7');
    expect(parser.lastEventId).toBe('7');
    expect(parser.retryMs).toBe(1500);
  });

  it('when the stream ends without the blank line, then the unfinished event is dropped', () => {
    expect(parse('data: finished\n\ndata: unfinished\n').events.map((e) => e.data)).toEqual(['finished']);
  });

  it('when data has no space after the colon or carries colons, then the value is kept exactly', () => {
    expect(parse('data:{"at":"12:00"}\n\n').events[0]!.data).toBe('{"at":"12:00"}');
    expect(parse('data:  two spaces\n\n').events[0]!.data).toBe(' two spaces');
  });

  it('when a byte stream splits a multi-byte character, then readSseStream still decodes it', async () => {
    const bytes = new TextEncoder().encode('event: order\ndata: {"name":"Café ☕"}\n\n');
    const chunks = [bytes.slice(0, 27), bytes.slice(27, 31), bytes.slice(31)];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const c of chunks) controller.enqueue(c);
        controller.close();
      },
    });
    const events: SseEvent[] = [];
    await readSseStream(body, (e) => events.push(e));
    expect(JSON.parse(events[0]!.data)).toEqual({ name: 'Café ☕' });
  });
});
