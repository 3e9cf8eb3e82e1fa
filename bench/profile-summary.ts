/**
 * Summarizes the V8 CPU profiles `bench/profile.ts --cpu-prof <dir>` wrote: per process, the share of
 * samples by where the code lives (our packages, each dependency, Node internals, GC, idle) and the
 * functions with the most self time.
 *   tsx bench/profile-summary.ts <dir> [--top 25]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const dir = process.argv[2]!;
const topIndex = process.argv.indexOf('--top');
const TOP = topIndex >= 0 ? Number(process.argv[topIndex + 1]) : 25;

/** Where a frame's code lives, in a few words. */
function area(url: string, name: string): string {
  if (name === '(garbage collector)') return 'gc';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'program';
  if (!url) return 'native';
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/').slice(0, 2).join('/');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const ours = /\/(services|packages|apps|sandboxes)\/([^/]+)\/src\/(.*)$/.exec(url);
  if (ours) return `${ours[1]}/${ours[2]}/${ours[3]}`;
  return url;
}

/** bench/profile.ts writes which process each pid was. */
const pids = existsSync(join(dir, 'pids.json')) ? (JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')) as Record<string, number>) : {};
const nameOf = (file: string) => Object.entries(pids).find(([, pid]) => file === `CPU.${pid}.cpuprofile`)?.[0] ?? file;

for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  /** Time with each area anywhere on the stack (inclusive), each area counted once per sample. */
  const inclusive = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const { url, functionName } = byId.get(at)!.callFrame;
      seen.add(area(url, functionName).split('/').slice(0, 2).join('/'));
    }
    if (seen.has('idle')) return;
    for (const a of seen) inclusive.set(a, (inclusive.get(a) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const busy = [...self].filter(([id]) => byId.get(id)!.callFrame.functionName !== '(idle)').reduce((a, [, v]) => a + v, 0);
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const a = area(url, functionName);
    if (a === 'idle') continue;
    areas.set(a, (areas.get(a) ?? 0) + us);
    const key = `${functionName || '(anonymous)'} ${a}:${lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1)}%`;
  process.stdout.write(`\n## ${nameOf(file)}: busy ${(busy / 1e6).toFixed(1)} s of ${(total / 1e6).toFixed(1)} s\n`);
  process.stdout.write('by area (self time): ' + [...areas].sort((a, b) => b[1] - a[1]).slice(0, 18).map(([a, us]) => `${a} ${pct(us)}`).join(', ') + '\n');
  process.stdout.write('inclusive: ' + [...inclusive].filter(([a]) => !['native', 'program', 'gc'].includes(a)).sort((a, b) => b[1] - a[1]).slice(0, 22).map(([a, us]) => `${a} ${pct(us)}`).join(', ') + '\n');
  for (const [fn, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, TOP)) process.stdout.write(`  ${pct(us).padStart(6)}  ${fn}\n`);
}
