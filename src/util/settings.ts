import { resolve } from 'node:path';

// Settings from environment variables and flags, read alike by `skep serve`, the operator CLI and
// `skep migrate`.

/**
 * The variable's value without surrounding blanks; undefined when it is unset or blank. Set to
 * nothing (`SKEP_DATA=` in a systemd EnvironmentFile) it counts as unset, so the default applies:
 * read as given, an empty data path is the current directory, an empty host every interface, and
 * Number('') is 0.
 */
export function envSetting(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/**
 * The data folder: --data, else SKEP_DATA, else ./data. An empty --data is refused (an empty path
 * is the current directory, which a start would take and lock down as its own).
 */
export function dataDirSetting(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  refuseEmptyFlags({ data: flag });
  return resolve(flag ?? envSetting(env, 'SKEP_DATA') ?? './data');
}

/**
 * An empty flag value (`--data ''`, `--host "$UNSET"`) is refused: an empty data path is the
 * current directory, an empty host every interface. Leaving the flag out gives the default.
 */
export function refuseEmptyFlags(values: Record<string, string | boolean | (string | boolean)[] | undefined>): void {
  for (const [name, value] of Object.entries(values)) {
    const given = Array.isArray(value) ? value : [value];
    if (given.some((v) => typeof v === 'string' && v.trim() === '')) {
      throw new Error(`--${name} was given an empty value: give one, or leave the flag out for its default`);
    }
  }
}

/**
 * Node runs a timer longer than 2^31-1 ms, or shorter than 1 ms, after 1 ms (with a warning): a
 * 30-day interval would run back to back, a long drain would cut uploads at once. Durations are
 * kept inside what a timer honours.
 */
export const MAX_TIMER_SECONDS = 2_147_483;
const MIN_TIMER_SECONDS = 0.001;

/**
 * A duration in seconds from a flag or variable, in ms; undefined when not given. `min` 0 allows
 * "none" (a drain that cuts requests at once); otherwise the least is 1 ms.
 */
export function secondsSetting(text: string | undefined, name: string, min = MIN_TIMER_SECONDS): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > MAX_TIMER_SECONDS) {
    throw new Error(`${name} takes a number of seconds from ${min} to ${MAX_TIMER_SECONDS} (24.8 days), not ${text}`);
  }
  return Math.round(n * 1000);
}

/** A whole number from `min` to `max` from a flag or variable; undefined when not given. */
export function integerSetting(text: string | undefined, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`${name} takes a whole number from ${min} to ${max}, not ${text}`);
  return n;
}
