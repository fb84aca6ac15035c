import { isUtf8 } from 'node:buffer';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { S3Error } from './errors.js';

// XML in and out of the S3 protocol. Responses are written by xmlElement below (a listing of
// 1000 keys spent most of its CPU in a generic builder); parsing validates first so malformed
// bodies become MalformedXML, never a 500.

export const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/**
 * A document with `root` as the outer element, in the S3 namespace (or the one given) unless
 * `namespace` is false, as UTF-8 bytes. Each field of `body` (each entry of a list) is encoded
 * as soon as it is written: encoding one long string built of thousands of pieces cost a
 * 1000-key listing more than writing it.
 */
export function xmlDocument(root: string, body: Record<string, unknown>, namespace: boolean | string = true): Buffer {
  const out = new Utf8Writer();
  let attributes = namespace ? ` xmlns="${xmlEscape(namespace === true ? S3_NS : namespace)}"` : '';
  for (const field in body) {
    const v = body[field];
    if (isAttribute(field) && v !== undefined && v !== null) attributes += ` ${field.slice(2)}="${xmlEscape(String(v))}"`;
  }
  out.write(`<?xml version="1.0" encoding="UTF-8"?>\n<${root}${attributes}>`);
  for (const field in body) {
    const value = body[field];
    if (isAttribute(field)) continue;
    if (value instanceof XmlList) {
      const { items, content, element } = value as XmlList<unknown>;
      for (let i = 0; i < items.length; i++) {
        const name = element ? element(items[i]) : field;
        out.write(`<${name}>${content(items[i])}</${name}>`);
      }
    } else if (Array.isArray(value)) {
      for (const item of value) out.write(xmlElement(field, item));
    } else if (field === '#text') {
      if (value !== undefined && value !== null) out.write(xmlEscape(String(value)));
    } else {
      out.write(xmlElement(field, value));
    }
  }
  out.write(`</${root}>`);
  return out.bytes();
}

function isAttribute(field: string): boolean {
  return field.charCodeAt(0) === 64 /* @ */ && field.startsWith('@_');
}

/**
 * UTF-8 bytes written into one scratch buffer kept between documents (writing is synchronous),
 * then copied once into a buffer of the document's size: a buffer allocated per piece or per
 * page is memory outside the heap that the garbage collector reacts to.
 */
class Utf8Writer {
  private static scratch = Buffer.allocUnsafeSlow(64 * 1024);
  /** A document larger than this gets its own scratch, not kept afterwards. */
  private static readonly KEEP = 4 * 1024 * 1024;
  private buf = Utf8Writer.scratch;
  private at = 0;

  write(text: string): void {
    // A UTF-16 code unit is at most 3 bytes of UTF-8.
    const need = this.at + text.length * 3;
    if (need > this.buf.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, need));
      this.buf.copy(bigger, 0, 0, this.at);
      this.buf = bigger;
      if (bigger.length <= Utf8Writer.KEEP) Utf8Writer.scratch = bigger;
    }
    this.at += this.buf.write(text, this.at);
  }

  bytes(): Buffer {
    const out = Buffer.allocUnsafe(this.at);
    this.buf.copy(out, 0, 0, this.at);
    return out;
  }
}

const SPECIAL = /[&<>"'\r]/;
const SPECIALS = /[&<>"'\r]/g;
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' };

/**
 * Text or an attribute value with the five XML specials escaped (most text has none), and CR as a
 * character reference, as S3 writes it: a parser turns a raw CR (or CR LF) into LF, so a key with
 * one would come back as another key, and a delete or a next page's marker would name that.
 */
export function xmlEscape(text: string): string {
  return SPECIAL.test(text) ? text.replace(SPECIALS, (c) => ENTITIES[c]) : text;
}

/**
 * A repeated element whose content a dedicated function writes (already escaped): for the
 * thousand entries of a listing page, a fixed template per entry instead of a walk over the
 * fields of an object made for each. With `element`, each item names its own element in place
 * of the field's, so one ordered sequence can mix elements (ListObjectVersions writes each
 * entry as <Version> or <DeleteMarker>, in listing order).
 */
export class XmlList<T> {
  constructor(
    readonly items: readonly T[],
    readonly content: (item: T) => string,
    readonly element?: (item: T) => string,
  ) {}
}

/**
 * One element from a plain value: an object's fields become child elements in order ('@_name'
 * fields attributes, '#text' text), an array (or an XmlList) repeats the element, null is an
 * empty element (`<Name/>`) and undefined leaves it out; other values are their text.
 */
export function xmlElement(name: string, value: unknown): string {
  if (value === undefined) return '';
  if (value === null) return `<${name}/>`;
  if (typeof value !== 'object') return `<${name}>${xmlEscape(String(value))}</${name}>`;
  if (Array.isArray(value)) {
    let out = '';
    for (const item of value) out += xmlElement(name, item);
    return out;
  }
  if (value instanceof XmlList) {
    const { items, content, element } = value as XmlList<unknown>;
    let out = '';
    for (let i = 0; i < items.length; i++) {
      const tag = element ? element(items[i]) : name;
      out += `<${tag}>${content(items[i])}</${tag}>`;
    }
    return out;
  }
  let attributes = '';
  let content = '';
  const fields = value as Record<string, unknown>;
  for (const field in fields) {
    const v = fields[field];
    if (isAttribute(field)) {
      if (v !== undefined && v !== null) attributes += ` ${field.slice(2)}="${xmlEscape(String(v))}"`;
    } else if (field === '#text') {
      if (v !== undefined && v !== null) content += xmlEscape(String(v));
    } else {
      content += xmlElement(field, v);
    }
  }
  return `<${name}${attributes}>${content}</${name}>`;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  // Numeric character references (&#34; as Go's encoding/xml writes quotes, so rclone's ETags)
  // are decoded only with this on; the HTML names it would also decode never get here
  // (checkCharacters refuses them first).
  htmlEntities: true,
  // Lists S3 bodies may repeat; always arrays so one element and many look the same.
  isArray: (name) => ['Object', 'Part', 'Tag', 'Grant', 'CORSRule', 'AllowedOrigin', 'AllowedMethod', 'AllowedHeader', 'ExposeHeader'].includes(name),
});

/** What a list body may hold, counted before it is parsed. */
export interface XmlRepeatLimit {
  /** Starts of the repeated element (Object, Part), and the message past `max`. */
  element: string;
  max: number;
  message: string;
  /** Elements of any name in all: unknown children of an entry cost the parser as much. */
  maxElements: number;
}

/**
 * Parses an S3 request body, given as the bytes received (a form field: as its text). Rejects
 * bytes that are not UTF-8, malformed XML, a missing/wrong root or a second top-level element with MalformedXML, and, with
 * `limit`, more starts of an element than it allows.
 */
export function parseXml(body: Buffer | string, root: string, limit?: XmlRepeatLimit): Record<string, unknown> {
  // A byte order mark before the declaration (<?xml ... encoding="UTF-8"?>) is allowed in XML.
  const text = (typeof body === 'string' ? body : utf8Text(body)).replace(/^\uFEFF/, '');
  if (text.trim() === '') throw new S3Error('MalformedXML');
  // External entities and DTDs have no place in S3 bodies.
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new S3Error('MalformedXML');
  // Validating and parsing cost the event loop time by the element: a list too long is refused first.
  if (limit) {
    if (countUpTo(text, startTag(limit.element), limit.max) > limit.max) throw new S3Error('MalformedXML', limit.message);
    if (countUpTo(text, ANY_START_TAG, limit.maxElements) > limit.maxElements) throw new S3Error('MalformedXML');
  }
  checkCharacters(text);
  let doc: Record<string, unknown>;
  try {
    if (XMLValidator.validate(text) !== true) throw new S3Error('MalformedXML');
    doc = parser.parse(text) as Record<string, unknown>;
  } catch {
    // Whatever the parser gives up on (too deeply nested, say) is the body's fault, not the server's.
    throw new S3Error('MalformedXML');
  }
  // One root only: the validator lets a self-closing second one through (<Delete>…</Delete><Evil/>).
  for (const name in doc) if (name !== root && !name.startsWith('?')) throw new S3Error('MalformedXML');
  const top = doc[root];
  if (top === undefined || Array.isArray(top)) throw new S3Error('MalformedXML');
  return (typeof top === 'object' && top !== null ? top : {}) as Record<string, unknown>;
}

/**
 * A body's text. Bytes that are not UTF-8 are a fatal error in an XML document: decoding them
 * would make each U+FFFD, and <Key>a\xFFb</Key> would name the object a\uFFFDb.
 */
function utf8Text(body: Buffer): string {
  if (!isUtf8(body)) throw new S3Error('MalformedXML');
  return body.toString('utf8');
}

const startTags = new Map<string, RegExp>();
const ANY_START_TAG = /<[^\s<>/!?]/g;

/** Start tags of `element`, with any namespace prefix (<s3:Object>). */
function startTag(element: string): RegExp {
  let pattern = startTags.get(element);
  if (!pattern) startTags.set(element, (pattern = new RegExp(`<(?:[^\\s<>/:]+:)?${element}[\\s/>]`, 'g')));
  return pattern;
}

/** Matches of a global `pattern` in `text`, counted up to one past `max`. */
function countUpTo(text: string, pattern: RegExp, max: number): number {
  pattern.lastIndex = 0;
  let count = 0;
  while (count <= max && pattern.test(text)) count++;
  return count;
}

// XML 1.0 Char (section 2.2): what a document may hold, raw or as a character reference.
const NOT_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
// In one pass: where a & is literal (CDATA, comments, processing instructions), every reference
// (the five predefined entities, decimal and hex character references, anything else after a &)
// and every character outside Char.
const CHECKED = new RegExp(`<!\\[CDATA\\[|<!--|<\\?|&(?:#x([0-9A-Fa-f]+);|#([0-9]+);|(?:amp|lt|gt|quot|apos);)?|${NOT_CHAR.source}`, 'gu');
const SECTION_END = new Map([['<![CDATA[', ']]>'], ['<!--', '-->'], ['<?', '?>']]);

function isXmlChar(codePoint: number): boolean {
  return codePoint <= 0x10ffff && !NOT_CHAR.test(String.fromCodePoint(codePoint));
}

/**
 * MalformedXML unless every character and reference is one XML 1.0 allows, as S3 answers. The
 * parser dropped &#0; and &#1; (so <Key>a&#1;b</Key> deleted the key "ab"), kept &#xFFFE;, read an
 * undefined &name; as its own text and decoded HTML names such as &nbsp;.
 */
function checkCharacters(text: string): void {
  CHECKED.lastIndex = 0;
  for (let m = CHECKED.exec(text); m !== null; m = CHECKED.exec(text)) {
    const [match, hex, decimal] = m;
    const end = SECTION_END.get(match);
    if (end !== undefined) {
      const close = text.indexOf(end, CHECKED.lastIndex);
      if (close < 0 || NOT_CHAR.test(text.slice(CHECKED.lastIndex, close))) throw new S3Error('MalformedXML');
      CHECKED.lastIndex = close + end.length;
    } else if (match[0] !== '&' || match.length === 1) {
      // A character outside Char, a lone & or an entity XML does not predefine.
      throw new S3Error('MalformedXML');
    } else if (hex !== undefined || decimal !== undefined) {
      if (!isXmlChar(hex !== undefined ? parseInt(hex, 16) : parseInt(decimal!, 10))) throw new S3Error('MalformedXML');
    }
  }
}

/** An element that may repeat, as a list (one occurrence parses as the element itself). */
export function xmlList(value: unknown): unknown[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

// Where a body takes one element, a repeated one is MalformedXML, as it is to S3: read as '' (or
// as the first), a doubled <Prefix> in a lifecycle Filter became the prefix of every key.

/** Text content of an element that takes text; MalformedXML if it is repeated or has child elements. */
export function xmlText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) || Object.keys(value as object).some((k) => k !== '#text')) throw new S3Error('MalformedXML');
  const text = (value as Record<string, unknown>)['#text'];
  return text === undefined ? '' : String(text);
}

/**
 * Refuses (MalformedXML) a child element the schema does not name where a configuration is read:
 * read as absent, a misspelt one changes what the document means (<Prefixx> in a lifecycle
 * Filter made the rule expire the whole bucket). Returns the node.
 */
export function onlyChildren(node: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  for (const name of Object.keys(node)) if (name !== '#text' && !names.includes(name)) throw new S3Error('MalformedXML');
  return node;
}

/**
 * The child elements of an element that takes them (none for an empty one); MalformedXML if it
 * is repeated or holds text. Each item of a list (xmlList, or a name parsed as one) is read with it.
 */
export function xmlNode(value: unknown): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) throw new S3Error('MalformedXML');
  // Only the whitespace that indents the children is text here.
  const text = typeof value === 'object' ? (value as Record<string, unknown>)['#text'] : value;
  if (text !== undefined && String(text).trim() !== '') throw new S3Error('MalformedXML');
  return typeof value === 'object' ? (value as Record<string, unknown>) : {};
}
