import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newAuditId } from './audit-id.js';

test('audit ids are UUIDv7 and strictly increasing, also within one millisecond and when the clock goes back', () => {
  const at = new Date(Date.UTC(2031, 4, 6, 7, 8, 9, 10));
  const ids = [
    ...Array.from({ length: 5000 }, () => newAuditId(at)), // more than the 4096 a millisecond's counter holds
    newAuditId(new Date(at.getTime() - 60_000)),
    newAuditId(new Date(at.getTime() + 60_000)),
  ];
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `${ids[i]} > ${ids[i - 1]}`);
  // The time is readable from the id.
  assert.equal(parseInt(ids[0].replace(/-/g, '').slice(0, 12), 16), at.getTime());
  assert.equal(parseInt(ids.at(-1)!.replace(/-/g, '').slice(0, 12), 16), at.getTime() + 60_000);
});
