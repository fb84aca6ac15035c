import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSqliteStore } from '../storage/metadata/sqlite-store.js';
import type { MetadataStore, ObjectRow } from '../storage/metadata/metadata-store.js';
import { SNAPSHOT_COST_FACTOR, UsageService } from './usage-service.js';

// The pacing of storage snapshots, on a real (in-memory) SQLite store: a bucket's totals are
// re-read no more often than SNAPSHOT_COST_FACTOR times what the last read took, except for a
// change on an earlier day and a flush asked to take them all (at shutdown).

const DAY_MS = 86_400_000;

async function setUp() {
  const meta = await openSqliteStore(':memory:');
  await meta.createProject({ id: 'prj', name: 'p', createdAt: new Date(0), maxTokenDays: null });
  await meta.createBucket({ id: 'bkt', projectId: 'prj', name: 'photos', region: 'us-east-1', createdAt: new Date(0) });
  let reads = 0;
  // Counts the reads of a bucket's totals (the real query still runs).
  const bucketStats = meta.bucketStats.bind(meta);
  meta.bucketStats = (id: string) => {
    reads++;
    return bucketStats(id);
  };
  let now = Date.parse('2026-03-10T12:00:00Z');
  const usage = new UsageService(meta, () => new Date(now));
  return {
    meta,
    usage,
    reads: () => reads,
    advance: (ms: number) => (now += ms),
    write: () => usage.record({ projectId: 'prj', bucket: 'photos', tokenId: null, kind: 'write', bytesIn: 10, bytesOut: 0 }),
  };
}

function object(key: string, size: number): ObjectRow {
  return {
    bucketId: 'bkt', key, size, etag: '"e"', lastModified: new Date(0), headers: {}, userMetadata: {}, checksum: null,
    blobs: [{ ref: key.padEnd(32, '0'), size }], partsCount: null, tags: {}, storageClass: 'STANDARD',
  };
}

async function snapshots(meta: MetadataStore) {
  return (await meta.storageSnapshots({ projectId: 'prj', from: '2026-03-01', to: '2026-03-31' })).map((s) => [s.day, s.bytes, s.objects]);
}

test('a bucket measured moments ago waits its turn; a flush of all takes it at once', async () => {
  const s = await setUp();
  try {
    await s.meta.putObject(object('a', 100), { kind: 'none' });
    s.write();
    await s.usage.flush();
    assert.equal(s.reads(), 1);
    assert.deepEqual(await snapshots(s.meta), [['2026-03-10', 100, 1]]);

    // A second change at once: not due yet (the clock has not moved), so not read again.
    await s.meta.putObject(object('b', 50), { kind: 'none' });
    s.write();
    await s.usage.flush();
    assert.equal(s.reads(), 1, 'paced: the totals were read moments ago');
    assert.deepEqual(await snapshots(s.meta), [['2026-03-10', 100, 1]]);

    // Asked for all (shutdown): recorded now.
    await s.usage.flush({ all: true });
    assert.equal(s.reads(), 2);
    assert.deepEqual(await snapshots(s.meta), [['2026-03-10', 150, 2]]);
  } finally {
    await s.meta.close();
  }
});

test('once the pacing window has passed, or the day has turned, the change is recorded', async () => {
  const s = await setUp();
  try {
    s.write();
    await s.usage.flush();
    await s.meta.putObject(object('a', 70), { kind: 'none' });
    s.write();
    // Longer than any plausible read of an in-memory bucket, times the factor.
    s.advance(SNAPSHOT_COST_FACTOR * 1000);
    await s.usage.flush();
    assert.equal(s.reads(), 2);
    assert.deepEqual(await snapshots(s.meta), [['2026-03-10', 70, 1]]);

    // A change made yesterday is written under yesterday at the first flush of today.
    await s.meta.putObject(object('b', 30), { kind: 'none' });
    s.write();
    s.advance(DAY_MS);
    await s.usage.flush();
    assert.deepEqual(await snapshots(s.meta), [['2026-03-10', 100, 2]]);
  } finally {
    await s.meta.close();
  }
});
