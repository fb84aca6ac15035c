import assert from 'node:assert/strict';
import { test } from 'node:test';
import { XMLBuilder } from 'fast-xml-parser';
import { parseXml, xmlDocument, xmlElement, xmlEscape, xmlList, xmlNode, xmlText } from './xml.js';
import { S3Error } from './errors.js';

// The response writer against fast-xml-parser's builder (what skep rendered with before) on every
// shape skep's handlers produce, and against the parser: what it writes reads back the same.

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: false, processEntities: true });

const NASTY = ['', 'plain', 'a<b>&"\'c', '&amp;', 'x]]>y', '  spaced  ', 'tab\tand\r\nlines', 'caf\u00e9 \u{1f600} \uffff', '<Key>', '"quoted"'];

const SHAPES: Record<string, unknown>[] = [
  { ListBucketResult: { '@_xmlns': 'http://s3.amazonaws.com/doc/2006-03-01/', Name: 'b', Prefix: '', KeyCount: 2, MaxKeys: 1000, IsTruncated: false, Contents: [{ Key: 'a', LastModified: '2026-01-02T03:04:05.006Z', ETag: '"e"', Size: 0, StorageClass: 'STANDARD' }, { Key: 'b&c', Size: 12345678901234 }], CommonPrefixes: [] } },
  { R: { Empty: '', Obj: {}, Null: null, Undef: undefined, Zero: 0, F: false, T: true, List: ['x', 'y'], Objs: [{ a: 1 }, { b: { c: [1, 2] } }], Mixed: [null, undefined, 'z'] } },
  { LocationConstraint: { '#text': 'eu-west-1' } },
  { LocationConstraint: { '#text': '' } },
  { AccessControlPolicy: { Grant: [{ Grantee: { '@_xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', '@_xsi:type': 'CanonicalUser', ID: 'id', DisplayName: 'me' }, Permission: 'FULL_CONTROL' }] } },
  { R: { '@_a': null, '@_b': undefined, '@_d': 1, '@_e': '', X: { '#text': 'hi', Y: 1 }, Z: { Y: 1, '#text': 'hi' }, F: { '@_q': 'r<', '#text': 5 } } },
  { R: NASTY.map((s) => ({ '@_v': s, Text: s, '#text': s })) },
  { Error: { Code: 'NoSuchKey', Message: 'The specified key does not exist.', Key: 'a/b<c>', RequestId: 'r', HostId: 'h' } },
];

test('writes what the generic builder wrote, byte for byte, but for CR, written as a reference', () => {
  for (const shape of SHAPES) {
    const [root] = Object.keys(shape);
    assert.equal(xmlElement(root, shape[root]), builder.build(shape).replaceAll('\r', '&#13;'), JSON.stringify(shape));
  }
});

test('escapes the five XML specials and CR in text and attributes, nothing else', () => {
  assert.equal(xmlEscape('a<b>&"\'c'), 'a&lt;b&gt;&amp;&quot;&apos;c');
  assert.equal(xmlEscape('&amp;'), '&amp;amp;');
  assert.equal(xmlEscape('a\r\nb\tc'), 'a&#13;\nb\tc', 'CR as a reference; LF and tab survive parsing as they are');
  assert.equal(xmlEscape('caf\u00e9 \u{1f600}'), 'caf\u00e9 \u{1f600}');
  assert.equal(xmlElement('K', { '@_v': '"<&>\'', '#text': '<' }), '<K v="&quot;&lt;&amp;&gt;&apos;">&lt;</K>');
  assert.equal(xmlElement('K', null), '<K/>');
  assert.equal(xmlElement('K', undefined), '');
  assert.equal(xmlElement('K', []), '');
  assert.equal(xmlElement('K', {}), '<K></K>');
});

test('a document is the declaration and the element the builder wrote, in UTF-8', () => {
  const declaration = '<?xml version="1.0" encoding="UTF-8"?>\n';
  const S3 = { '@_xmlns': 'http://s3.amazonaws.com/doc/2006-03-01/' };
  const cases: Array<[string, Record<string, unknown>, boolean | string]> = [
    ['LocationConstraint', { '#text': 'eu-west-1' }, true],
    ['LocationConstraint', { '#text': '' }, true],
    ['Error', { Code: 'NoSuchKey', Message: 'a<b', Key: 'caf\u00e9', Extra: undefined, Empty: null }, false],
    ['ErrorResponse', { Error: { Type: 'Sender', Code: 'X' }, RequestId: 'r' }, 'https://sts.amazonaws.com/doc/2011-06-15/'],
    ['R', { '@_a': 'b"c', Only: 1 }, false],
    // Longer than the writer's first buffers, with characters of 1 to 4 UTF-8 bytes at every offset.
    ['ListPartsResult', { Bucket: 'b', Part: Array.from({ length: 3000 }, (_, i) => ({ PartNumber: i, ETag: `"\u00e9${'\u{1f600}'.repeat(i % 7)}\u4e2d${i}"` })) }, true],
  ];
  for (const [root, body, ns] of cases) {
    const value = ns === false ? body : { ...(ns === true ? S3 : { '@_xmlns': ns }), ...body };
    const doc = xmlDocument(root, body, ns);
    assert.ok(Buffer.isBuffer(doc));
    assert.equal(doc.toString('utf8'), declaration + builder.build({ [root]: value }), root);
  }
});

test('a document reads back as what was written', () => {
  // (XML parsers turn \r\n into \n, and a character XML 1.0 does not allow, such as U+FFFF, makes
  // the document unreadable: such keys need encoding-type=url.)
  for (const key of NASTY.filter((s) => s.trim() === s && s !== '' && !s.includes('\r') && !s.includes('\uffff'))) {
    const doc = xmlDocument('ListBucketResult', { Name: 'b', Contents: [{ Key: key, Size: 1 }, { Key: `${key}2`, Size: 2 }] }).toString('utf8');
    assert.ok(doc.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'));
    const parsed = parseXml(doc, 'ListBucketResult') as { Contents: Array<{ Key: string }> };
    assert.deepEqual(parsed.Contents.map((c) => c.Key), [key, `${key}2`]);
  }
});

test('text and child elements are read only where one of them belongs; a repeated element is MalformedXML', () => {
  const doc = parseXml('<R><T>a&amp;b</T><E/><Twice>1</Twice><Twice>2</Twice><Mixed>x<C>y</C></Mixed><N>\n  <C>y</C>\n</N><Text>t</Text></R>', 'R');
  const malformed = (fn: () => unknown) => assert.throws(fn, (e: unknown) => e instanceof S3Error && e.code === 'MalformedXML');
  assert.equal(xmlText(doc.T), 'a&b');
  assert.equal(xmlText(doc.E), '');
  assert.equal(xmlText(doc.Missing), undefined);
  malformed(() => xmlText(doc.Twice));
  malformed(() => xmlText(doc.Mixed));
  malformed(() => xmlText(doc.N));
  assert.equal(xmlText(xmlNode(doc.N)!.C), 'y');
  assert.deepEqual(xmlNode(doc.E), {});
  assert.equal(xmlNode(doc.Missing), undefined);
  malformed(() => xmlNode(doc.Twice));
  malformed(() => xmlNode(doc.Text));
  malformed(() => xmlNode(doc.Mixed));
  assert.deepEqual(xmlList(doc.Twice), ['1', '2']);
});

test('characters and references outside XML 1.0 are MalformedXML; the five entities, character references to characters and CDATA are read', () => {
  const malformed = (text: string) => assert.throws(() => parseXml(text, 'R'), (e: unknown) => e instanceof S3Error && e.code === 'MalformedXML', JSON.stringify(text));
  for (const bad of ['&#0;', '&#1;', '&#x1F;', '&#xD800;', '&#xFFFE;', '&#xFFFF;', '&#x110000;', '&#X41;', '&#x;', '&nbsp;', '&copy;', '&unknown;', '&', 'a & b', '\u0000', '\u0008', '\ufffe', '\ud800', '<![CDATA[\u0001]]>', '<![CDATA[x']) {
    malformed(`<R><K>a${bad}b</K></R>`);
  }
  const read = (text: string) => xmlText(parseXml(`<R><K>${text}</K></R>`, 'R').K);
  assert.equal(read('&amp;&lt;&gt;&quot;&apos;'), '&<>"\'');
  assert.equal(read('&#34;e&#x22;&#9;&#xA;&#0000065;&#x10FFFF;\u{10FFFF}\uFFFD'), '"e"\t\nA\u{10FFFF}\u{10FFFF}\uFFFD');
  assert.equal(read('<![CDATA[a&b<&#1;]]><!-- & -->c'), 'a&b<&#1;c');
  assert.deepEqual(parseXml('<?xml version="1.0"?>\n<R>x</R>', 'R'), {});
});

test('a body whose bytes are not UTF-8 is MalformedXML; U+FFFD sent as its UTF-8 bytes is read', () => {
  const body = (key: Buffer) => Buffer.concat([Buffer.from('<R><K>'), key, Buffer.from('</K></R>')]);
  for (const bad of ['ff', 'c0af', 'eda080', 'e9']) {
    assert.throws(() => parseXml(body(Buffer.from(`61${bad}62`, 'hex')), 'R'), (e: unknown) => e instanceof S3Error && e.code === 'MalformedXML', bad);
  }
  assert.equal(xmlText(parseXml(body(Buffer.from('a\uFFFDb')), 'R').K), 'a\uFFFDb');
});

test('a second top-level element is MalformedXML', () => {
  for (const text of ['<R/><E/>', '<E/><R/>', '<R></R><R/>', '<R><K>k</K></R><E></E>']) {
    assert.throws(() => parseXml(text, 'R'), (e: unknown) => e instanceof S3Error && e.code === 'MalformedXML', text);
  }
});

test('a list longer than allowed is refused by counting its start tags, prefixed or not, before parsing', () => {
  const limit = { element: 'Object', max: 3, message: 'at most 3', maxElements: 12 };
  const objects = (n: number, tag = 'Object') => `<R xmlns:s3="x">${`<${tag}><K>k</K></${tag}>`.repeat(n)}</R>`;
  assert.equal(xmlList(parseXml(objects(3), 'R', limit).Object).length, 3);
  assert.equal(xmlList(parseXml(objects(3, 's3:Object'), 'R', limit).Object).length, 3);
  for (const text of [objects(4), objects(4, 's3:Object'), `<R><Object/><Deep>${'<Object />'.repeat(3)}</Deep></R>`]) {
    assert.throws(() => parseXml(text, 'R', limit), (e: unknown) => e instanceof S3Error && e.code === 'MalformedXML' && e.message === 'at most 3', text);
  }
  // Other names that start the same are not counted as the element, but as elements in all.
  assert.deepEqual(parseXml(`<R>${'<ObjectLock/><Objects/>'.repeat(4)}</R>`, 'R', { ...limit, maxElements: 9 }), { ObjectLock: ['', '', '', ''], Objects: ['', '', '', ''] });
  assert.throws(() => parseXml(`<R><Object><K>k</K>${'<J/>'.repeat(10)}</Object></R>`, 'R', limit), (e: unknown) => e instanceof S3Error && e.code === 'MalformedXML');
});

test('a body may start with a byte order mark, before its declaration or its root', () => {
  for (const body of ['\uFEFF<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet></Delete>', '\uFEFF<Delete><Quiet>true</Quiet></Delete>']) {
    assert.equal(xmlText(parseXml(Buffer.from(body, 'utf8'), 'Delete').Quiet), 'true', body);
  }
});
