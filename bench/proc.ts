// Process figures from /proc (Linux): resident memory (current and peak) and CPU time.

import { readFileSync } from 'node:fs';

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

/** User + system CPU seconds of a process (all its threads, libuv's pool included). */
export function readCpuSeconds(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** Samples a process's RSS every `intervalMs` and keeps the maximum seen. */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  maxRssMiB = 0;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 100,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  sample(): MemoryReading | null {
    const m = readMemory(this.pid);
    if (m && m.rssMiB > this.maxRssMiB) this.maxRssMiB = m.rssMiB;
    return m;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
