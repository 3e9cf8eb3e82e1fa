// The embedded PostgreSQL (PGlite, WASM) on a thread of its own: db/pglite.ts starts it and speaks to it.
// Plain JavaScript so that a worker thread loads it as is (Node 20 runs no TypeScript without a loader,
// and the tests' runner transforms only its own threads).
//
// In:  { id, kind: 'run', schema?, tx?, begin?, finish?: 'commit' | 'rollback', steps: [{ text, params }] }
//      { id, kind: 'listen', channel, listenId } | { id, kind: 'unlisten', listenId } | { id, kind: 'close' }
// Out: { ready: true } once open ({ failed } if it cannot open); { id, result } or { id, error } per
//      message in (a run answers with its last step's rows); { notify: listenId, payload } per NOTIFY.
//
// One connection, so one transaction at a time: while a transaction (`tx`) is open, only its own
// messages run and every other message waits here, in the order it came. Waiting here rather than
// on the main thread means the next one starts the moment a transaction ends.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, protocol, types } from '@electric-sql/pglite';

const { parseType } = types;

/** int8 comes back as a number, as on PostgreSQL (INT8_OID and parseInt8 in db/types.ts). */
const INT8_OID = 20;

/** A database error's fields (code, constraint, detail…) survive the trip; its class cannot. */
const plain = (error) => (error instanceof Error ? { ...error, name: error.name, message: error.message } : { message: String(error) });

const port = parentPort;
let db;
try {
  db = await PGlite.create({ dataDir: workerData.dataDir, parsers: { [INT8_OID]: (value) => Number(value) } });
} catch (error) {
  port.postMessage({ failed: plain(error) });
  port.close();
}

/** The transaction holding the connection, if any. */
let owner;
/** The search path set on the connection (unknown after any failure or rollback). */
let searchPath;
const unlisteners = new Map();

const { serialize } = protocol;
// The messages that carry no text of their own are built once.
const SYNC = serialize.sync();
const DESCRIBE_PORTAL = serialize.describe({ type: 'P' });
const EXECUTE = serialize.execute({});
const BEGIN = serialize.query('BEGIN');
const END = { commit: serialize.query('COMMIT'), rollback: serialize.query('ROLLBACK') };

/**
 * One message is one call into PostgreSQL: BEGIN, the search path, every step (parse, bind,
 * describe, execute) and COMMIT or ROLLBACK go in one buffer, as a client would pipeline them on
 * a socket, instead of PGlite's query(), which makes six calls per statement (it also describes
 * each statement to serialize its parameters by type: ours come serialized by node-postgres'
 * rules, as on PostgreSQL). One Sync after the steps: a failing step skips the rest, and a COMMIT
 * after it rolls back.
 */
async function run(message) {
  const parts = [];
  if (message.begin) {
    owner = message.tx;
    parts.push(BEGIN);
  }
  // Inside a transaction the path is set once, at BEGIN (in a failed one a SET would fail too).
  const setPath = (message.begin || message.tx === undefined) && message.schema && searchPath !== message.schema;
  if (setPath) parts.push(serialize.query(`SET search_path TO ${message.schema},public`));
  for (const step of message.steps) {
    parts.push(serialize.parse({ text: step.text }), serialize.bind({ values: step.params ?? [] }), DESCRIBE_PORTAL, EXECUTE);
  }
  if (message.steps.length > 0) parts.push(SYNC);
  if (message.finish) {
    parts.push(END[message.finish]);
    owner = undefined;
  }

  const { messages } = await db.execProtocol(Buffer.concat(parts), { throwOnError: false });
  let error;
  let last;
  for (const m of messages) {
    if (m.name === 'error') error ??= m;
    else if (m.name === 'parseComplete') last = { fields: [], rows: [], tag: undefined };
    else if (!last) continue;
    else if (m.name === 'rowDescription') last.fields = m.fields;
    else if (m.name === 'dataRow') {
      const row = {};
      for (let i = 0; i < m.fields.length; i++) {
        const field = last.fields[i];
        row[field.name] = parseType(m.fields[i], field.dataTypeID, db.parsers);
      }
      last.rows.push(row);
    } else if (m.name === 'commandComplete') last.tag ??= m.text;
  }
  if (error || message.finish === 'rollback') searchPath = undefined;
  else if (setPath) searchPath = message.schema;
  if (error) throw error;
  if (!last) return undefined;
  // "UPDATE 3", "INSERT 0 1", "DELETE 2": the count is the last word; a SELECT counts its rows.
  const counted = Number(last.tag?.slice(last.tag.lastIndexOf(' ') + 1));
  return { rows: last.rows, rowCount: last.rows.length || (Number.isFinite(counted) ? counted : 0) };
}

async function handle(message) {
  switch (message.kind) {
    case 'run':
      return run(message);
    case 'listen':
      unlisteners.set(message.listenId, await db.listen(message.channel, (payload) => port.postMessage({ notify: message.listenId, payload })));
      return undefined;
    case 'unlisten':
      await unlisteners.get(message.listenId)?.();
      unlisteners.delete(message.listenId);
      return undefined;
    case 'close':
      await db.close();
      return undefined;
    default:
      throw new Error(`unknown message kind ${message.kind}`);
  }
}

const waiting = [];
let busy = false;
function pump() {
  if (busy) return;
  const next = waiting.findIndex((message) => owner === undefined || message.tx === owner);
  if (next < 0) return;
  const [message] = waiting.splice(next, 1);
  busy = true;
  handle(message).then(
    (result) => port.postMessage({ id: message.id, result }),
    (error) => port.postMessage({ id: message.id, error: plain(error) }),
  ).finally(() => {
    busy = false;
    if (message.kind === 'close') port.close();
    else pump();
  });
}

if (db) {
  port.on('message', (message) => {
    waiting.push(message);
    pump();
  });
  port.postMessage({ ready: true });
}
