// The MetadataStore contract for versioned buckets, Object Lock state, bucket settings read with
// the bucket, and job leases. Part of metadataStoreContract (contract.ts), which runs it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BucketRow, MetadataStore, ObjectRow, ObjectVersionRow, RemovalGuard } from './metadata-store.js';
import { bucketRow, hex, newBlob, objectRow, partRow, projectRow, refs, uploadRow } from './contract.js';

const allow: RemovalGuard = () => true;
const refuse: RemovalGuard = () => false;
const at = (n: number) => new Date(1_700_000_000_000 + n * 1000);

/** A version of `key` written at second n (a fresh version ID). */
function version(bucketId: string, key: string, n: number, over: Partial<ObjectRow> = {}): ObjectRow {
  return objectRow(bucketId, key, { versionId: `v${n}-${hex(4)}`, lastModified: at(n), ...over });
}

const ids = (rows: ObjectVersionRow[]) => rows.map((r) => r.versionId);
const summary = (rows: ObjectVersionRow[]) => rows.map((r) => `${r.key}:${r.versionId}${r.isLatest ? '*' : ''}${r.isDeleteMarker ? 'D' : ''}`);

export function versionsContract(open: () => Promise<MetadataStore>): void {
  async function withBucket(fn: (s: MetadataStore, b: BucketRow) => Promise<void>): Promise<void> {
    const s = await open();
    try {
      const p = projectRow();
      await s.createProject(p);
      const b = bucketRow(p.id, 'versioned');
      await s.createBucket(b);
      await fn(s, b);
    } finally {
      await s.close();
    }
  }

  describe('versions', () => {
    test('enabled: each put keeps the previous current version as noncurrent; nothing is released', () =>
      withBucket(async (s, b) => {
        const v1 = version(b.id, 'k', 1, { blobs: [newBlob(10)] });
        const v2 = version(b.id, 'k', 2, { blobs: [newBlob(20)] });
        assert.deepEqual(await s.putObject(v1, { kind: 'none' }, 'enabled'), { ok: true, replaced: [] });
        assert.deepEqual(await s.putObject(v2, { kind: 'none' }, 'enabled'), { ok: true, replaced: [] });
        assert.deepEqual(await s.getObject(b.id, 'k'), v2);
        const old = await s.getObjectVersion(b.id, 'k', v1.versionId!);
        assert.ok(old);
        assert.deepEqual({ ...old, isLatest: undefined, isDeleteMarker: undefined, noncurrentSince: undefined }, { ...v1, isLatest: undefined, isDeleteMarker: undefined, noncurrentSince: undefined });
        assert.equal(old.isLatest, false);
        assert.deepEqual(old.noncurrentSince, v2.lastModified, 'noncurrent since its successor was written');
        assert.equal((await s.getObjectVersion(b.id, 'k', v2.versionId!))?.isLatest, true);
        assert.equal(await s.getObjectVersion(b.id, 'k', 'nope'), null);
        assert.deepEqual(summary(await s.listObjectVersions(b.id, { prefix: '', limit: 100 })), [`k:${v2.versionId}*`, `k:${v1.versionId}`]);
        assert.deepEqual(await s.listObjects(b.id, { prefix: '', limit: 10 }).then((r) => r.map((o) => o.key)), ['k']);
        assert.deepEqual(await s.bucketStats(b.id), { objects: 1, bytes: 20, noncurrentVersions: 1, noncurrentBytes: 10, deleteMarkers: 0 });
        assert.deepEqual(await s.referencedBlobRefs(), new Set([...v1.blobs, ...v2.blobs].map((x) => x.ref)));
      }));

    test('a delete marker hides the key; a put after it makes the key current again', () =>
      withBucket(async (s, b) => {
        const v1 = version(b.id, 'k', 1);
        await s.putObject(v1, { kind: 'none' }, 'enabled');
        assert.deepEqual(await s.putDeleteMarker({ bucketId: b.id, key: 'k', versionId: 'dm1', lastModified: at(2) }, 'enabled', refuse), { ok: true, release: [] });
        assert.equal(await s.getObject(b.id, 'k'), null);
        assert.deepEqual(await s.listObjects(b.id, { prefix: '', limit: 10 }), []);
        const latest = await s.getLatestVersion(b.id, 'k');
        assert.equal(latest?.versionId, 'dm1');
        assert.equal(latest?.isDeleteMarker, true);
        assert.equal(latest?.isLatest, true);
        assert.deepEqual(summary(await s.listObjectVersions(b.id, { prefix: '', limit: 100 })), ['k:dm1*D', `k:${v1.versionId}`]);
        // A second delete adds another marker.
        await s.putDeleteMarker({ bucketId: b.id, key: 'k', versionId: 'dm2', lastModified: at(3) }, 'enabled', refuse);
        const v4 = version(b.id, 'k', 4);
        assert.ok((await s.putObject(v4, { kind: 'ifNoneMatch' }, 'enabled')).ok, 'a delete marker is no object for If-None-Match');
        assert.deepEqual(summary(await s.listObjectVersions(b.id, { prefix: '', limit: 100 })), [`k:${v4.versionId}*`, 'k:dm2D', 'k:dm1D', `k:${v1.versionId}`]);
        assert.deepEqual((await s.getObjectVersion(b.id, 'k', 'dm2'))?.noncurrentSince, at(4));
        assert.deepEqual(await s.bucketStats(b.id), { objects: 1, bytes: v4.size, noncurrentVersions: 1, noncurrentBytes: v1.size, deleteMarkers: 2 });
        assert.equal(await s.getLatestVersion(b.id, 'missing'), null);
      }));

    test('deleting a version for good: the next newest becomes current, its blobs are released once', () =>
      withBucket(async (s, b) => {
        const v1 = version(b.id, 'k', 1);
        const v2 = version(b.id, 'k', 2);
        await s.putObject(v1, { kind: 'none' }, 'enabled');
        await s.putObject(v2, { kind: 'none' }, 'enabled');
        const out = await s.deleteObjectVersion(b.id, 'k', v2.versionId!, allow);
        assert.ok(out.ok);
        assert.deepEqual(refs(out.release), refs(v2.blobs));
        assert.equal(out.deleted?.isLatest, true);
        assert.deepEqual(await s.getObject(b.id, 'k'), v1, 'v1 is current again');
        assert.deepEqual(await s.deleteObjectVersion(b.id, 'k', v2.versionId!, allow), { ok: true, deleted: null, release: [] });

        // A current delete marker removed: the object under it is current again.
        await s.putDeleteMarker({ bucketId: b.id, key: 'k', versionId: 'dm', lastModified: at(3) }, 'enabled', allow);
        const gone = await s.deleteObjectVersion(b.id, 'k', 'dm', allow);
        assert.ok(gone.ok && gone.deleted?.isDeleteMarker && gone.deleted.isLatest);
        assert.deepEqual(gone.ok && gone.release, []);
        assert.deepEqual(await s.getObject(b.id, 'k'), v1);

        // Removing a noncurrent version leaves the current one alone.
        const v4 = version(b.id, 'k', 4);
        await s.putObject(v4, { kind: 'none' }, 'enabled');
        const old = await s.deleteObjectVersion(b.id, 'k', v1.versionId!, allow);
        assert.ok(old.ok && old.deleted?.isLatest === false);
        assert.deepEqual(await s.getObject(b.id, 'k'), v4);
        assert.deepEqual(ids(await s.listObjectVersions(b.id, { prefix: '', limit: 100 })), [v4.versionId]);
        assert.ok((await s.deleteObjectVersion(b.id, 'k', v4.versionId!, allow)).ok);
        assert.deepEqual(await s.listObjectVersions(b.id, { prefix: '', limit: 100 }), []);
        assert.equal(await s.deleteBucket(b.id), 'deleted');
      }));

    test('a conditional delete marker goes in only in front of the current version it expects', () =>
      withBucket(async (s, b) => {
        const v1 = version(b.id, 'k', 1);
        await s.putObject(v1, { kind: 'none' }, 'enabled');
        const v2 = version(b.id, 'k', 2);
        await s.putObject(v2, { kind: 'none' }, 'enabled');
        const isV1 = (cur: ObjectVersionRow | null) => cur?.versionId === v1.versionId;
        assert.deepEqual(await s.putDeleteMarker({ bucketId: b.id, key: 'k', versionId: 'dm1', lastModified: at(3) }, 'enabled', allow, isV1), { ok: false, reason: 'changed' });
        assert.deepEqual(ids(await s.listObjectVersions(b.id, { prefix: '', limit: 10 })), [v2.versionId, v1.versionId], 'nothing changed');
        const isV2 = (cur: ObjectVersionRow | null) => cur?.versionId === v2.versionId;
        assert.ok((await s.putDeleteMarker({ bucketId: b.id, key: 'k', versionId: 'dm2', lastModified: at(4) }, 'enabled', allow, isV2)).ok);
        assert.deepEqual(await s.putDeleteMarker({ bucketId: b.id, key: 'k', versionId: 'dm3', lastModified: at(5) }, 'enabled', allow, isV2), { ok: false, reason: 'changed' }, 'a marker is current now');
      }));

    test('a version the guard refuses is neither deleted nor replaced', () =>
      withBucket(async (s, b) => {
        const v1 = version(b.id, 'k', 1);
        await s.putObject(v1, { kind: 'none' }, 'enabled');
        let seen: ObjectVersionRow | undefined;
        const guard: RemovalGuard = (v) => {
          seen = v;
          return false;
        };
        assert.deepEqual(await s.deleteObjectVersion(b.id, 'k', v1.versionId!, guard), { ok: false, reason: 'locked' });
        assert.equal(seen?.versionId, v1.versionId, 'the guard sees the version');
        assert.deepEqual(await s.getObject(b.id, 'k'), v1);

        // Suspended: the null version would be replaced.
        const n1 = version(b.id, 'n', 1, { versionId: 'null' });
        await s.putObject(n1, { kind: 'none' }, 'suspended', allow);
        assert.deepEqual(await s.putObject(version(b.id, 'n', 2, { versionId: 'null' }), { kind: 'none' }, 'suspended', refuse), { ok: false, reason: 'locked' });
        assert.deepEqual(await s.putDeleteMarker({ bucketId: b.id, key: 'n', versionId: 'x', lastModified: at(3) }, 'suspended', refuse), { ok: false, reason: 'locked' });
        assert.deepEqual(await s.getObject(b.id, 'n'), n1);
        assert.equal(await s.deleteBucket(b.id), 'not-empty');
      }));

    test('suspended: the null version is replaced, other versions stay', () =>
      withBucket(async (s, b) => {
        const v1 = version(b.id, 'k', 1);
        await s.putObject(v1, { kind: 'none' }, 'enabled');
        const n2 = version(b.id, 'k', 2, { versionId: 'null' });
        assert.deepEqual(await s.putObject(n2, { kind: 'none' }, 'suspended', allow), { ok: true, replaced: [] });
        const n3 = version(b.id, 'k', 3, { versionId: 'null' });
        const out = await s.putObject(n3, { kind: 'none' }, 'suspended', allow);
        assert.deepEqual(out.ok && refs(out.replaced), refs(n2.blobs), 'the previous null version is released');
        assert.deepEqual(ids(await s.listObjectVersions(b.id, { prefix: '', limit: 100 })), ['null', v1.versionId]);

        // A delete makes a null delete marker; the null object goes.
        const del = await s.putDeleteMarker({ bucketId: b.id, key: 'k', versionId: 'ignored', lastModified: at(4) }, 'suspended', allow);
        assert.deepEqual(del.ok && refs(del.release), refs(n3.blobs));
        assert.deepEqual(summary(await s.listObjectVersions(b.id, { prefix: '', limit: 100 })), ['k:null*D', `k:${v1.versionId}`]);
        // Versioning enabled again: a new version, and the null marker stays until replaced.
        const v5 = version(b.id, 'k', 5);
        await s.putObject(v5, { kind: 'none' }, 'enabled');
        // Suspended again: the null marker (noncurrent now) is replaced by the new null version.
        const n6 = version(b.id, 'k', 6, { versionId: 'null' });
        await s.putObject(n6, { kind: 'none' }, 'suspended', allow);
        assert.deepEqual(summary(await s.listObjectVersions(b.id, { prefix: '', limit: 100 })), ['k:null*', `k:${v5.versionId}`, `k:${v1.versionId}`]);
      }));

    test('an unversioned write onto a versioned current row reports versioned and changes nothing', () =>
      withBucket(async (s, b) => {
        const v1 = version(b.id, 'k', 1);
        await s.putObject(v1, { kind: 'none' }, 'enabled');
        assert.deepEqual(await s.putObject(objectRow(b.id, 'k'), { kind: 'none' }), { ok: false, reason: 'versioned' });
        assert.deepEqual(await s.getObject(b.id, 'k'), v1);
        // An object written before versioning (the null version) is kept as a version.
        const old = objectRow(b.id, 'n');
        await s.putObject(old, { kind: 'none' });
        const v2 = version(b.id, 'n', 2);
        await s.putObject(v2, { kind: 'none' }, 'enabled');
        assert.deepEqual(ids(await s.listObjectVersions(b.id, { prefix: 'n', limit: 10 })), [v2.versionId, 'null']);
      }));

    test('conditions apply to the current version', () =>
      withBucket(async (s, b) => {
        const v1 = version(b.id, 'k', 1);
        assert.deepEqual(await s.putObject(v1, { kind: 'ifMatch', etag: '*' }, 'enabled'), { ok: false, reason: 'missing' });
        await s.putObject(v1, { kind: 'ifNoneMatch' }, 'enabled');
        assert.deepEqual(await s.putObject(version(b.id, 'k', 2), { kind: 'ifNoneMatch' }, 'enabled'), { ok: false, reason: 'exists' });
        assert.deepEqual(await s.putObject(version(b.id, 'k', 2), { kind: 'ifMatch', etag: '"x"' }, 'enabled'), { ok: false, reason: 'etag-mismatch' });
        assert.ok((await s.putObject(version(b.id, 'k', 2), { kind: 'ifMatch', etag: v1.etag }, 'enabled')).ok);
        assert.equal((await s.listObjectVersions(b.id, { prefix: '', limit: 10 })).length, 2);
      }));

    test('concurrent versioned puts of one key: every version is kept, in one order, one current', () =>
      withBucket(async (s, b) => {
        const rows = Array.from({ length: 12 }, () => version(b.id, 'race', 1));
        const outs = await Promise.all(rows.map((r) => s.putObject(r, { kind: 'none' }, 'enabled')));
        assert.ok(outs.every((o) => o.ok && o.replaced.length === 0));
        const listed = await s.listObjectVersions(b.id, { prefix: '', limit: 100 });
        assert.deepEqual(new Set(ids(listed)), new Set(rows.map((r) => r.versionId)));
        assert.equal(listed.filter((v) => v.isLatest).length, 1);
        assert.equal((await s.getObject(b.id, 'race'))?.versionId, listed[0].versionId);
      }));

    test('listObjectVersions pages by key and version marker, prefix and from, visiting each version once', () =>
      withBucket(async (s, b) => {
        const want: string[] = [];
        let n = 0;
        for (const key of ['a', 'a/x', 'b', 'c\uffff', 'c\u{1f600}']) { // UTF-8 order: U+FFFF before U+1F600
          const made: string[] = [];
          for (let i = 0; i < 3; i++) {
            const v = version(b.id, key, ++n);
            await s.putObject(v, { kind: 'none' }, 'enabled');
            made.unshift(`${key}:${v.versionId}`);
          }
          if (key === 'b') {
            await s.putDeleteMarker({ bucketId: b.id, key, versionId: `dm-${key}`, lastModified: at(++n) }, 'enabled', allow);
            made.unshift(`${key}:dm-${key}`);
          }
          want.push(...made);
        }
        const plain = (rows: ObjectVersionRow[]) => rows.map((r) => `${r.key}:${r.versionId}`);
        assert.deepEqual(plain(await s.listObjectVersions(b.id, { prefix: '', limit: 1000 })), want, 'UTF-8 key order, newest first');
        for (const size of [1, 2, 3, 5]) {
          const seen: string[] = [];
          let keyMarker: string | undefined;
          let versionIdMarker: string | undefined;
          for (;;) {
            const page = await s.listObjectVersions(b.id, { prefix: '', keyMarker, versionIdMarker, limit: size });
            seen.push(...plain(page));
            if (page.length < size) break;
            keyMarker = page.at(-1)!.key;
            versionIdMarker = page.at(-1)!.versionId;
          }
          assert.deepEqual(seen, want, `pages of ${size}`);
        }
        assert.deepEqual(plain(await s.listObjectVersions(b.id, { prefix: 'a/', limit: 100 })), want.filter((x) => x.startsWith('a/')));
        assert.deepEqual(plain(await s.listObjectVersions(b.id, { prefix: '', keyMarker: 'a/x', limit: 100 })), want.filter((x) => x.startsWith('b') || x.startsWith('c')));
        assert.deepEqual(plain(await s.listObjectVersions(b.id, { prefix: '', from: 'b', limit: 4 })), want.filter((x) => x.startsWith('b')));
        const latest = (await s.listObjectVersions(b.id, { prefix: 'b', limit: 100 })).map((v) => v.isLatest);
        assert.deepEqual(latest, [true, false, false, false]);
      }));

    test('listObjectVersions resumes after a marker version deleted since, from its seq; without it, never past the rest of its key', () =>
      withBucket(async (s, b) => {
        const made: string[] = [];
        for (let n = 1; n <= 4; n++) {
          const v = version(b.id, 'k', n);
          await s.putObject(v, { kind: 'none' }, 'enabled');
          made.unshift(v.versionId!);
        }
        await s.putObject(version(b.id, 'l', 9), { kind: 'none' }, 'enabled');
        const [first, second] = await s.listObjectVersions(b.id, { prefix: '', limit: 2 });
        assert.deepEqual([first.versionId, second.versionId], made.slice(0, 2));
        assert.ok(first.seq > second.seq, 'newest first by seq');
        // The current version, then a noncurrent one, each deleted after it was listed.
        assert.ok((await s.deleteObjectVersion(b.id, 'k', first.versionId, allow)).ok);
        const afterFirst = await s.listObjectVersions(b.id, { prefix: 'k', keyMarker: 'k', versionIdMarker: first.versionId, versionSeqMarker: first.seq, limit: 10 });
        assert.deepEqual(summary(afterFirst), [`k:${made[1]}*`, `k:${made[2]}`, `k:${made[3]}`], 'the promoted current version is listed as the latest');
        assert.ok((await s.deleteObjectVersion(b.id, 'k', made[2], allow)).ok);
        const afterGone = await s.listObjectVersions(b.id, { prefix: '', keyMarker: 'k', versionIdMarker: made[2], versionSeqMarker: afterFirst[1].seq, limit: 10 });
        assert.deepEqual(ids(afterGone).slice(0, 2), [made[3], afterGone[1].versionId]);
        assert.equal(afterGone[1].key, 'l');
        // Named by its ID alone, a deleted marker version loses its place: the key is listed again.
        const byIdOnly = await s.listObjectVersions(b.id, { prefix: 'k', keyMarker: 'k', versionIdMarker: made[2], limit: 10 });
        assert.deepEqual(ids(byIdOnly), [made[1], made[3]]);
      }));

    test('tags and Object Lock state per version; lock changes are compare-and-swap', () =>
      withBucket(async (s, b) => {
        const until = new Date(1_900_000_000_000);
        const v1 = version(b.id, 'k', 1, { retention: { mode: 'COMPLIANCE', until }, legalHold: true, encryption: { kind: 'SSE-S3', wrappedKey: 'v1:aa:bb:cc' } });
        const v2 = version(b.id, 'k', 2, { encryption: { kind: 'SSE-C', keySalt: 'c2FsdA', keyHmac: 'aG1hYw' } });
        await s.putObject(v1, { kind: 'none' }, 'enabled');
        await s.putObject(v2, { kind: 'none' }, 'enabled');
        const back = await s.getObjectVersion(b.id, 'k', v1.versionId!);
        assert.deepEqual([back?.retention, back?.legalHold, back?.encryption], [v1.retention, true, v1.encryption]);
        assert.deepEqual((await s.getObject(b.id, 'k'))?.encryption, v2.encryption);

        assert.equal(await s.setObjectTags(b.id, 'k', { old: '1' }, v1.versionId), v1.versionId);
        assert.equal(await s.setObjectTags(b.id, 'k', { cur: '2' }), v2.versionId);
        assert.deepEqual((await s.getObjectVersion(b.id, 'k', v1.versionId!))?.tags, { old: '1' });
        assert.deepEqual((await s.getObject(b.id, 'k'))?.tags, { cur: '2' });
        assert.equal(await s.setObjectTags(b.id, 'k', { a: '1' }, 'nope'), null);

        const none = { retention: null, legalHold: false };
        const held = { retention: v1.retention!, legalHold: true };
        assert.equal(await s.setObjectLock(b.id, 'k', v1.versionId, none, none), 'changed', 'not the state it has');
        assert.equal(await s.setObjectLock(b.id, 'k', v1.versionId, held, { retention: v1.retention!, legalHold: false }), 'ok');
        assert.equal((await s.getObjectVersion(b.id, 'k', v1.versionId!))?.legalHold, false);
        assert.equal(await s.setObjectLock(b.id, 'k', undefined, none, { retention: { mode: 'GOVERNANCE', until }, legalHold: false }), 'ok');
        assert.deepEqual((await s.getObject(b.id, 'k'))?.retention, { mode: 'GOVERNANCE', until });
        assert.equal(await s.setObjectLock(b.id, 'k', 'nope', none, none), 'missing');
        assert.equal(await s.setObjectLock(b.id, 'missing', undefined, none, none), 'missing');
      }));

    test('a legal hold has three states: never placed (null), on, and off once placed', () =>
      withBucket(async (s, b) => {
        const v1 = version(b.id, 'k', 1, { legalHold: null });
        await s.putObject(v1, { kind: 'none' }, 'enabled');
        assert.equal((await s.getObject(b.id, 'k'))?.legalHold, null);
        const never = { retention: null, legalHold: null };
        assert.equal(await s.setObjectLock(b.id, 'k', undefined, { retention: null, legalHold: false }, never), 'changed', 'never placed is not off');
        assert.equal(await s.setObjectLock(b.id, 'k', undefined, never, { retention: null, legalHold: true }), 'ok');
        assert.equal(await s.setObjectLock(b.id, 'k', undefined, { retention: null, legalHold: true }, { retention: null, legalHold: false }), 'ok');
        await s.putObject(version(b.id, 'k', 2, { legalHold: null }), { kind: 'none' }, 'enabled');
        assert.equal((await s.getObjectVersion(b.id, 'k', v1.versionId!))?.legalHold, false, 'off, kept as the version goes noncurrent');
        assert.deepEqual((await s.listObjectVersions(b.id, { prefix: '', limit: 10 })).map((v) => v.legalHold), [null, false]);
      }));

    test('completing an upload in a versioned bucket keeps the current version as noncurrent', () =>
      withBucket(async (s, b) => {
        const v1 = version(b.id, 'k', 1);
        await s.putObject(v1, { kind: 'none' }, 'enabled');
        const until = new Date(1_900_000_000_000);
        const u = uploadRow(b.id, 'k', { encryption: { kind: 'SSE-S3', wrappedKey: 'w' }, objectLock: { retention: { mode: 'GOVERNANCE', until }, legalHold: true } });
        await s.createUpload(u);
        assert.deepEqual(await s.getUpload(u.uploadId), u);
        const p = partRow(u.uploadId, 1);
        await s.putPart(p);
        const v2 = version(b.id, 'k', 2, { blobs: [p.blob] });
        const out = await s.completeUpload(u.uploadId, v2, { kind: 'none' }, 'enabled', allow);
        assert.deepEqual(out, { ok: true, release: [] });
        assert.deepEqual(ids(await s.listObjectVersions(b.id, { prefix: '', limit: 10 })), [v2.versionId, v1.versionId]);
      }));

    test('a bucket holding versions or delete markers is not empty', () =>
      withBucket(async (s, b) => {
        const v1 = version(b.id, 'k', 1);
        await s.putObject(v1, { kind: 'none' }, 'enabled');
        await s.putDeleteMarker({ bucketId: b.id, key: 'k', versionId: 'dm', lastModified: at(2) }, 'enabled', allow);
        assert.equal(await s.deleteBucket(b.id), 'not-empty');
        await s.deleteObjectVersion(b.id, 'k', v1.versionId!, allow);
        assert.equal(await s.deleteBucket(b.id), 'not-empty', 'the delete marker is still there');
        await s.deleteObjectVersion(b.id, 'k', 'dm', allow);
        assert.equal(await s.deleteBucket(b.id), 'deleted');
      }));
  });

  describe('bucket settings of data protection', () => {
    test('createBucket stores initial settings with the bucket, in one transaction', () =>
      withBucket(async (s, b) => {
        const locked = bucketRow(b.projectId, 'locked');
        const settings = { versioning: '{"status":"Enabled"}', 'object-lock': '{"enabled":true}' };
        assert.equal(await s.createBucket(locked, settings), 'created');
        const read = await s.getBucketWithSettings(b.projectId, 'locked');
        assert.deepEqual({ bucket: read?.bucket, settings: read?.settings }, { bucket: locked, settings });
        assert.equal(await s.createBucket(bucketRow(b.projectId, 'locked'), { versioning: '{"status":"Suspended"}' }), 'exists');
        assert.deepEqual(await s.getBucketSettings(locked.id), settings, 'a failed create changes nothing');
      }));

    test('bucketsWithSetting pages over every project by bucket id', () =>
      withBucket(async (s, b) => {
        const p2 = projectRow();
        await s.createProject(p2);
        const made: BucketRow[] = [b];
        for (let i = 0; i < 4; i++) {
          const row = bucketRow(p2.id, `b${i}`);
          await s.createBucket(row);
          made.push(row);
        }
        for (const row of made.slice(0, 4)) await s.putBucketSetting(row.id, 'lifecycle', `{"for":"${row.name}"}`, new Date(1));
        const want = made.slice(0, 4).map((r) => r.id).sort();
        const first = await s.bucketsWithSetting('lifecycle', null, 3);
        const rest = await s.bucketsWithSetting('lifecycle', first.at(-1)!.bucket.id, 3);
        assert.deepEqual([...first, ...rest].map((x) => x.bucket.id), want);
        assert.equal(first[0].value, `{"for":"${first[0].bucket.name}"}`);
      }));
  });

  describe('leases', () => {
    test('one holder at a time until it lapses or is let go; the state outlives holders', async () => {
      const s = await open();
      try {
        const now = new Date(1_000_000);
        const later = new Date(2_000_000);
        assert.deepEqual(await s.acquireLease('job', 'node-a', now, later), { state: null });
        assert.equal(await s.acquireLease('job', 'node-b', now, later), null, 'held by node-a');
        assert.equal(await s.saveLeaseState('job', 'node-a', '{"cursor":1}', later), true);
        assert.equal(await s.saveLeaseState('job', 'node-b', '{"cursor":9}', later), false);
        assert.deepEqual(await s.acquireLease('job', 'node-a', now, later), { state: '{"cursor":1}' }, 'renewed by its holder');
        assert.deepEqual(await s.acquireLease('job', 'node-b', later, new Date(3_000_000)), { state: '{"cursor":1}' }, 'taken once lapsed');
        assert.equal(await s.saveLeaseState('job', 'node-a', null, later), false);
        await s.releaseLease('job', 'node-b');
        assert.deepEqual(await s.acquireLease('job', 'node-a', now, later), { state: '{"cursor":1}' }, 'let go');
        const racers = await Promise.all(['x', 'y', 'z'].map((h) => s.acquireLease('other', h, now, later)));
        assert.equal(racers.filter((r) => r !== null).length, 1, 'exactly one of concurrent takers');
      } finally {
        await s.close();
      }
    });
  });
}
