// Process figures from /proc (Linux): resident memory (current and peak) and CPU time.

import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface MemoryReading {
  rssMiB: number;
  /** VmHWM: the peak RSS since the process started. */
  hwmMiB: number;
}

export function readMemory(pid: number): MemoryReading | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/**
 * The fields of a /proc stat line after the command name (which is in parentheses and may contain
 * spaces): [1] is the parent's pid, [11] utime, [12] stime, [13] cutime, [14] cstime, in ticks.
 */
function statFields(text: string): string[] {
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU seconds in a line's fields (statFields). */
function ownCpuSeconds(fields: string[]): number {
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** User + system CPU seconds of a process (all its threads, libuv's pool included). */
export function readCpuSeconds(pid: number): number {
  try {
    return ownCpuSeconds(statFields(readFileSync(`/proc/${pid}/stat`, 'utf8')));
  } catch {
    return NaN;
  }
}

export interface ThreadCpu {
  /** The main (JavaScript) thread. */
  main: number;
  /**
   * All other threads: libuv's pool (file system calls, their kernel time included) and V8's
   * GC/compiler threads. Node 20 names them all "node", so they are not told apart.
   */
  other: number;
}

/** CPU seconds per thread group (user + system), from /proc/<pid>/task. */
export function readThreadCpu(pid: number): ThreadCpu {
  const out: ThreadCpu = { main: 0, other: 0 };
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { main: NaN, other: NaN };
  }
  for (const tid of tids) {
    try {
      out[tid === String(pid) ? 'main' : 'other'] += ownCpuSeconds(statFields(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** The figures of a group of processes (the nodes of one target), added up. */
export function readMemoryOf(pids: readonly number[]): MemoryReading | null {
  const each = pids.map(readMemory);
  if (each.some((m) => m === null)) return null;
  return { rssMiB: each.reduce((n, m) => n + m!.rssMiB, 0), hwmMiB: each.reduce((n, m) => n + m!.hwmMiB, 0) };
}

/**
 * CPU seconds of a process and all its descendants, living and exited: PostgreSQL's postmaster,
 * its backends and its background workers. An exited child counts through its parent's
 * cutime/cstime once reaped, so the figure only grows while the tree runs.
 */
export function readTreeCpuSeconds(rootPid: number): number {
  const fieldsOf = new Map<number, string[]>();
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const fields = statFields(readFileSync(`/proc/${name}/stat`, 'utf8'));
      const pid = Number(name);
      fieldsOf.set(pid, fields);
      const parent = Number(fields[1]);
      children.set(parent, [...(children.get(parent) ?? []), pid]);
    } catch {
      // the process ended meanwhile
    }
  }
  let ticks = 0;
  for (const stack = [rootPid]; stack.length > 0; ) {
    const pid = stack.pop()!;
    const f = fieldsOf.get(pid);
    if (!f) continue;
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    stack.push(...(children.get(pid) ?? []));
  }
  return ticks / TICKS_PER_SECOND;
}

export function readCpuSecondsOf(pids: readonly number[]): number {
  return pids.reduce((n, pid) => n + readCpuSeconds(pid), 0);
}

export function readThreadCpuOf(pids: readonly number[]): ThreadCpu {
  return pids.map(readThreadCpu).reduce((a, b) => ({ main: a.main + b.main, other: a.other + b.other }), { main: 0, other: 0 });
}

/** Samples the RSS of a process (or the sum over a group) every `intervalMs` and keeps the maximum seen. */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  maxRssMiB = 0;
  private readonly pids: readonly number[];

  constructor(
    pid: number | readonly number[],
    private readonly intervalMs = 100,
  ) {
    this.pids = typeof pid === 'number' ? [pid] : pid;
  }

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  sample(): MemoryReading | null {
    const m = readMemoryOf(this.pids);
    if (m && m.rssMiB > this.maxRssMiB) this.maxRssMiB = m.rssMiB;
    return m;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
