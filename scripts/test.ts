/**
 * `npm test`: the whole suite. Suites that need servers are named for them —
 * `*.kafka.test.ts` (Kafka and PostgreSQL, distributed mode) and `*.pg.test.ts` (PostgreSQL).
 * On a laptop without those servers they are left out, and this says which and how to run them.
 * In CI (CI=true) or with EMPORIUM_REQUIRE_SERVERS=1 they are required: a missing server fails the run.
 * The storefront's browser journeys (`tests/browser`) need Debian's chromium at /usr/bin/chromium
 * (or CHROMIUM_PATH): left out without it on a laptop, required in CI.
 * Extra arguments go to vitest (e.g. `npm test -- services/orders`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';

const required = process.env.CI === 'true' || process.env.CI === '1' || process.env.EMPORIUM_REQUIRE_SERVERS === '1';
const kafka = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')[0]!;
const postgres = new URL(process.env.POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');

const reachable = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });

const [kafkaHost, kafkaPort] = kafka.split(':');
const hasKafka = await reachable(kafkaHost!, Number(kafkaPort ?? 9092));
const hasPostgres = await reachable(postgres.hostname, Number(postgres.port || 5432));

const excludes: string[] = [];
const skipped: string[] = [];
if (!hasPostgres || !hasKafka) {
  const missing = [!hasPostgres && `PostgreSQL at ${postgres.host}`, !hasKafka && `Kafka at ${kafka}`].filter(Boolean).join(' and ');
  if (required) {
    console.error(`\nnpm test: ${missing} not reachable, and the distributed suites are required here (CI). Start them: \`bash scripts/kafka.sh start\`, PostgreSQL 15+.\n`);
    process.exit(1);
  }
  excludes.push('**/*.kafka.test.ts');
  skipped.push('distributed suites (*.kafka.test.ts: separate processes, PostgreSQL, Kafka)');
  if (!hasPostgres) {
    excludes.push('**/*.pg.test.ts');
    skipped.push('PostgreSQL suites (*.pg.test.ts)');
  }
  console.warn(`\nnpm test: ${missing} not reachable — skipping ${skipped.join(' and ')}.`);
  console.warn('  To run them: start PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and `npm run kafka:start`, then `npm test`.\n');
}

mkdirSync('.data', { recursive: true });
const extra = process.argv.slice(2);
const filters = extra.filter((a) => !a.startsWith('-'));

// The browser journeys run on their own after the in-process suites, so chromium does not compete
// with them for the CPU; with file filters given, only when a filter points at them.
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const browserWanted = filters.length === 0 || filters.some((f) => f.includes('browser') || 'tests/browser'.startsWith(f.replace(/\/$/, '')));
const hasChromium = existsSync(chromium);
if (browserWanted && !hasChromium) {
  if (required) {
    console.error(`\nnpm test: no browser at ${chromium}, and the storefront's browser journeys are required here (CI). Install Debian's chromium: apt-get install -y chromium.\n`);
    process.exit(1);
  }
  skipped.push(`browser journeys (tests/browser: no chromium at ${chromium}; apt-get install -y chromium)`);
  console.warn(`\nnpm test: no browser at ${chromium} — skipping the storefront's browser journeys (tests/browser). Install it: apt-get install -y chromium.\n`);
}

interface Report {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
}

/** One vitest run; returns its exit status and counts. */
function vitest(name: string, args: string[]): { status: number; report?: Report } {
  const report = `.data/vitest-${name}.json`;
  rmSync(report, { force: true });
  const result = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args, ...extra], {
    stdio: 'inherit',
    env: process.env,
  });
  return { status: result.status ?? 1, report: existsSync(report) ? (JSON.parse(readFileSync(report, 'utf8')) as Report) : undefined };
}

// Phase 1: everything that runs in one process (unit, component, embedded end-to-end), in parallel.
// Phase 2: the distributed suites, one file at a time — each starts seven processes of its own.
// Phase 3: the storefront in a real browser (chromium), against the embedded store.
const phases = [vitest('embedded', ['--exclude', '**/*.kafka.test.ts', '--exclude', 'tests/browser/**', ...excludes.flatMap((g) => ['--exclude', g]), ...(filters.length > 0 ? ['--passWithNoTests'] : [])])];
if (!excludes.includes('**/*.kafka.test.ts')) {
  phases.push(vitest('distributed', ['--config', 'vitest.distributed.config.ts', '--passWithNoTests']));
}
if (browserWanted && hasChromium) phases.push(vitest('browser', filters.length > 0 ? [] : ['tests/browser']));

const total = { passed: 0, failed: 0, skipped: 0 };
for (const phase of phases) {
  if (!phase.report) {
    total.failed++;
    continue;
  }
  total.passed += phase.report.numPassedTests;
  total.failed += phase.report.numFailedTests;
  total.skipped += phase.report.numPendingTests + phase.report.numTodoTests;
}
if (skipped.length > 0) console.log(`\nLeft out (a server or the browser is missing): ${skipped.join('; ')}.`);
console.log(`\ntests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(phases.every((p) => p.status === 0) ? 0 : 1);
