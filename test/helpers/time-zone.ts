/**
 * Runs `fn` with the process in another time zone (Node reads TZ again whenever it is set), then
 * puts the zone back: for code that must read dates the same whatever the host's zone.
 */
export function inTimeZone(zone: string, fn: () => void): void {
  const saved = process.env.TZ;
  process.env.TZ = zone;
  try {
    fn();
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
}
