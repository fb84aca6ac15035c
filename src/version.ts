import { readFileSync } from 'node:fs';

/** skep's version, from package.json (one folder above both src/ and dist/). */
export const SKEP_VERSION: string = (() => {
  try {
    return String((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
})();
