// Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by module.

import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TargetResult } from './scenarios.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  /** Microseconds, on CLOCK_MONOTONIC (what monotonicMicros() reads in the bench). */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileScope {
  /** Only the samples taken within these intervals (monotonic microseconds), e.g. a row's timed runs. */
  windows: Array<[number, number]>;
  /** Operations run in them: the summary then gives the busy time per operation. */
  ops: number;
  label: string;
}

function moduleOf(url: string): string {
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) return url;
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

export function summariseProfile(path: string, top = 25, scope?: ProfileScope): string {
  return summarise(JSON.parse(readFileSync(path, 'utf8')) as Profile, path, top, scope);
}

/** One summary per scope (a row of the table), reading the profile once. */
export function summariseProfileScopes(path: string, scopes: ProfileScope[], top = 20): string[] {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  return scopes.map((scope) => summarise(p, path, top, scope));
}

function summarise(p: Profile, path: string, top: number, scope: ProfileScope | undefined): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  let at = p.startTime;
  const inScope = (t: number) => !scope || scope.windows.some(([a, b]) => t >= a && t <= b);
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    at += dt;
    if (!inScope(at)) continue;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
    total += dt;
  }
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  let idle = 0;
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += t;
      continue;
    }
    const where = n.callFrame.url ? `${moduleOf(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : '';
    const key = where ? `${name}  ${where}` : name;
    fn.set(key, (fn.get(key) ?? 0) + t);
    const m = n.callFrame.url ? moduleOf(n.callFrame.url) : name.startsWith('(') ? name : '(native/V8)';
    mod.set(m, (mod.get(m) ?? 0) + t);
  }
  // Inclusive time: each sample counts once for every distinct function on its stack.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (n: ProfileNode) => {
    const name = n.callFrame.functionName || '(anonymous)';
    return n.callFrame.url ? `${name}  ${moduleOf(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : name;
  };
  const inclusive = new Map<string, number>();
  for (const [id, t] of self) {
    if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = keyOf(byId.get(cur)!);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + t);
    }
  }
  const busy = total - idle;
  const pct = (t: number) => `${((100 * t) / busy).toFixed(1).padStart(5)}%`;
  const lines = scope
    ? [`${scope.label}: ${(busy / 1000 / scope.ops).toFixed(3)} ms busy main-thread time per operation (${scope.ops} operations, ${(busy / 1e6).toFixed(2)} s busy of ${(total / 1e6).toFixed(2)} s sampled; ${path})`]
    : [`profile ${path}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (percentages of busy main-thread time)`];
  lines.push('  self time by module:');
  for (const [m, t] of [...mod].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`    ${pct(t)}  ${m}`);
  lines.push('  self time by function:');
  for (const [f, t] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`    ${pct(t)}  ${f}`);
  lines.push('  total (inclusive) time by function, application code only:');
  const app = [...inclusive].filter(([k]) => k.includes('dist/') || k.includes('/src/'));
  for (const [f, t] of app.sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`    ${pct(t)}  ${f}`);
  return lines.join('\n');
}

/** The main thread's profile among a process's (workers write their own): the largest. */
export function mainThreadProfile(dir: string, files: string[]): string | undefined {
  const sized = files.map((f) => ({ path: join(dir, f), size: statSync(join(dir, f)).size }));
  return sized.sort((a, b) => b.size - a.size)[0]?.path;
}

/** --profile: for each row (scenario) a target ran, where its main thread spent the timed runs. */
export function rowProfiles(target: string, path: string, result: TargetResult): string {
  const scopes: ProfileScope[] = [];
  for (const [id, rounds] of Object.entries(result.rounds)) {
    const ok = (rounds ?? []).filter((r) => !r.error && r.window);
    if (ok.length === 0) continue;
    scopes.push({ label: `[${target}] ${id}`, windows: ok.map((r) => r.window!), ops: ok.reduce((n, r) => n + r.ops, 0) });
  }
  return summariseProfileScopes(path, scopes).join('\n\n');
}
