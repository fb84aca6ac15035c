import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { S3Error } from './errors.js';

// XML in and out of the S3 protocol. Building goes through fast-xml-parser's builder (which
// escapes text); parsing validates first so malformed bodies become MalformedXML, never a 500.

export const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: false,
  processEntities: true,
});

/** A document with `root` as the outer element, in the S3 namespace (or the one given) unless `namespace` is false. */
export function xmlDocument(root: string, body: Record<string, unknown>, namespace: boolean | string = true): string {
  const value = namespace ? { '@_xmlns': namespace === true ? S3_NS : namespace, ...body } : body;
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ [root]: value })}`;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  // Numeric character references (&#34; as Go's encoding/xml writes quotes, so rclone's ETags)
  // are decoded only with this on; it also admits a few HTML names, harmless in S3 bodies.
  htmlEntities: true,
  // Lists S3 bodies may repeat; always arrays so one element and many look the same.
  isArray: (name) => ['Object', 'Part', 'Tag', 'Grant', 'CORSRule', 'AllowedOrigin', 'AllowedMethod', 'AllowedHeader', 'ExposeHeader'].includes(name),
});

/** Parses an S3 request body. Rejects malformed XML and a missing/wrong root with MalformedXML. */
export function parseXml(text: string, root: string): Record<string, unknown> {
  if (text.trim() === '') throw new S3Error('MalformedXML');
  // External entities and DTDs have no place in S3 bodies.
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new S3Error('MalformedXML');
  let doc: Record<string, unknown>;
  try {
    if (XMLValidator.validate(text) !== true) throw new S3Error('MalformedXML');
    doc = parser.parse(text) as Record<string, unknown>;
  } catch {
    // Whatever the parser gives up on (too deeply nested, say) is the body's fault, not the server's.
    throw new S3Error('MalformedXML');
  }
  const body = doc[root];
  if (body === undefined) throw new S3Error('MalformedXML');
  return (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
}

/** An element that may repeat, as a list (one occurrence parses as the element itself). */
export function xmlList(value: unknown): unknown[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** Text content of an element parsed by parseXml (elements may be strings or empty objects). */
export function xmlText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object' && '#text' in (value as Record<string, unknown>)) return String((value as Record<string, unknown>)['#text']);
  return '';
}
