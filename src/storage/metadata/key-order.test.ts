import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareUtf8, prefixSuccessor, tightestLowerBound } from './key-order.js';

test('compareUtf8 orders by bytes where UTF-16 disagrees', () => {
  assert.ok(compareUtf8('\uffff', '\u{10000}') < 0); // UTF-16 says the opposite
  assert.ok('\uffff' > '\u{10000}');
  assert.ok(compareUtf8('\ue000', '\u{1f600}') < 0);
  assert.equal(compareUtf8('a', 'a'), 0);
  assert.ok(compareUtf8('a', 'ab') < 0);
  assert.ok(compareUtf8('\u{10000}', '\u{10001}') < 0);
  assert.ok(compareUtf8('\u{1f600}', '\u{10ffff}') < 0);
});

test('compareUtf8 agrees with Buffer.compare on well-formed strings', () => {
  const samples = ['', 'a', 'ab', 'a\u007f', '\u0080', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\ufffd', '\uffff', '\u{10000}', '\u{1f600}', '\u{10ffff}', 'a\u{10000}b', 'a\uffffb'];
  const sign = (x: number) => Math.sign(x);
  for (const a of samples) {
    for (const b of samples) {
      assert.equal(sign(compareUtf8(a, b)), sign(Buffer.compare(Buffer.from(a), Buffer.from(b))), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  }
});

test('prefixSuccessor increments the last code point', () => {
  assert.equal(prefixSuccessor('abc'), 'abd');
  assert.equal(prefixSuccessor('a/'), 'a0');
  assert.equal(prefixSuccessor('a\u007f'), 'a\u0080');
  assert.equal(prefixSuccessor('a\uffff'), 'a\u{10000}');
  assert.equal(prefixSuccessor('a\u{1f600}'), 'a\u{1f601}');
});

test('prefixSuccessor skips surrogates and drops trailing U+10FFFF', () => {
  assert.equal(prefixSuccessor('a\ud7ff'), 'a\ue000');
  assert.equal(prefixSuccessor('a\u{10ffff}'), 'b');
  assert.equal(prefixSuccessor('a\u{10ffff}\u{10ffff}'), 'b');
  assert.equal(prefixSuccessor('\u{10ffff}'), null);
  assert.equal(prefixSuccessor(''), null);
});

test('prefixSuccessor is above every extension of the prefix and is the least such string', () => {
  for (const prefix of ['a', 'a\ud7ff', 'a\uffff', 'x\u{10ffff}', '\u00ff']) {
    const succ = prefixSuccessor(prefix) as string;
    for (const tail of ['', '\u0000', 'z', '\uffff', '\u{10ffff}\u{10ffff}\u{10ffff}']) {
      assert.ok(compareUtf8(prefix + tail, succ) < 0, `${JSON.stringify(prefix + tail)} < ${JSON.stringify(succ)}`);
    }
    assert.equal(succ.startsWith(prefix), false);
  }
});

test('tightestLowerBound picks the greatest bound by bytes; exclusive wins a tie', () => {
  assert.equal(tightestLowerBound([undefined, undefined]), undefined);
  assert.deepEqual(
    tightestLowerBound([
      { key: 'a', inclusive: true },
      { key: 'a\u{1f600}', inclusive: false },
      { key: 'a\ue000', inclusive: true },
    ]),
    { key: 'a\u{1f600}', inclusive: false },
  );
  assert.deepEqual(
    tightestLowerBound([
      { key: 'k', inclusive: false },
      { key: 'k', inclusive: true },
    ]),
    { key: 'k', inclusive: false },
  );
  assert.deepEqual(
    tightestLowerBound([
      { key: 'k', inclusive: true },
      { key: 'k', inclusive: false },
    ]),
    { key: 'k', inclusive: false },
  );
});
