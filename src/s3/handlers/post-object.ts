import busboy from 'busboy';
import { Readable } from 'node:stream';
import { S3Error } from '../errors.js';
import { header, type S3Context } from '../context.js';
import type { S3Response } from '../render.js';
import { checkPostPolicy, parsePostPolicy, type FormFields } from '../../sigv4/post-policy.js';
import { BodyDigest, validateChecksumValue } from '../../checksums/digest.js';
import { CHECKSUM_ALGORITHMS, checksumHeader } from '../../checksums/types.js';
import { parseCannedAcl } from '../../buckets/bucket-config-service.js';
import { STORAGE_CLASSES, headersFromFields } from '../object-headers.js';
import { validateTags } from '../../objects/tags.js';
import { parseXml } from '../xml.js';
import { feed } from '../body.js';
import { hasControlCharacter } from '../../net/header-text.js';
import { tagSetFrom } from './tagging.js';
import { newVersionHeader } from './object.js';
import { encryptionHeaders, encryptionRequest } from '../protection-headers.js';
import { objectLocation } from '../object-location.js';
import { checkObjectKey, formKeyText } from '../endpoint.js';
import { countReceivedBody } from '../../net/received-body.js';

// POST object: an HTML form upload (multipart/form-data). The fields before the file are read
// (20 KB at most, as S3), the form's signature and policy are checked, the signer is admitted to
// the bucket like any request, and then the file part streams to the blob store — never buffered.
// Fields after the file are ignored, as S3 does.

/** What S3 allows for the fields that precede the file. */
export const MAX_POST_FIELDS_BYTES = 20 * 1024;

/**
 * The largest file sent as text content: a `file` part without a filename (a textarea, `curl -F
 * file=...`), which the form parser hands over as a field, held in memory.
 */
export const MAX_TEXT_FILE_BYTES = 1024 * 1024;

interface FilePart {
  stream: Readable;
  /** The file's name as sent (decoded as UTF-8, or by the charset its part names). */
  filename: string;
}

/** Reads the form up to its file part: the fields (lower-case names), and the file's stream. */
function readForm(ctx: S3Context): Promise<{ fields: Map<string, string>; file: FilePart; done: Promise<void> }> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      // A browser sends the fields and the file's name as UTF-8 bytes (the form is UTF-8, as S3
      // requires); other clients name a part's charset, or use filename*=, and busboy decodes by
      // those. Either way an invalid byte becomes U+FFFD: a key holding one is refused
      // (formKeyText), so that two different names cannot become one key. A file's name keeps only
      // what follows its last '/' or '\\' (AWS: C:\\dir\\file.txt is file.txt).
      parser = busboy({ headers: ctx.req.headers, preservePath: false, defCharset: 'utf8', defParamCharset: 'utf8', limits: { fieldSize: MAX_TEXT_FILE_BYTES + 1, files: 1 } });
    } catch {
      reject(new S3Error('MalformedPOSTRequest'));
      return;
    }
    const fields = new Map<string, string>();
    let bytes = 0;
    let file: FilePart | undefined;
    let failure: S3Error | undefined;
    const fail = (err: S3Error) => {
      failure ??= err;
      reject(err);
    };
    const done = new Promise<void>((resolveDone, rejectDone) => {
      parser.on('close', () => {
        if (!file && !failure) fail(new S3Error('IncorrectNumberOfFilesInPostRequest'));
        resolveDone();
      });
      parser.on('error', () => {
        const err = new S3Error('MalformedPOSTRequest');
        file?.stream.destroy(err);
        fail(err);
        rejectDone(err);
      });
    });
    done.catch(() => undefined);
    parser.on('field', (name, value, info) => {
      if (file) return; // after the file: ignored
      const key = name.toLowerCase();
      if (key === 'file') {
        // (The parser marks a field truncated once it reaches its limit, hence the limit's extra byte.)
        // The file as text content (S3: "File or text content"). Bytes that are not text came
        // through the parser's UTF-8 decoding changed: refused, never stored altered.
        if (info.valueTruncated) return fail(new S3Error('EntityTooLarge', `A file sent without a filename is text content, at most ${MAX_TEXT_FILE_BYTES} bytes; name a filename to send a larger file.`));
        if (value.includes('\uFFFD')) return fail(new S3Error('InvalidArgument', 'A file sent without a filename is text content and must be UTF-8; name a filename to send other bytes.', { ArgumentName: 'file', ArgumentValue: '' }));
        file = { stream: Readable.from([Buffer.from(value, 'utf8')]), filename: '' };
        file.stream.on('error', () => undefined);
        resolve({ fields, file, done });
        return;
      }
      bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
      if (bytes > MAX_POST_FIELDS_BYTES) return fail(new S3Error('MaxPostPreDataLengthExceededError'));
      if (fields.has(key)) return;
      try {
        fields.set(key, key === 'key' ? formKeyText(value) : value);
      } catch (err) {
        fail(err as S3Error);
      }
    });
    parser.on('file', (name, stream, info) => {
      if (file || name.toLowerCase() !== 'file' || failure) {
        stream.resume();
        if (file && name.toLowerCase() === 'file') fail(new S3Error('IncorrectNumberOfFilesInPostRequest'));
        return;
      }
      // The form may fail before upload() pipes the file (its checks are asynchronous): its stream is
      // then destroyed, which upload() sees; this listener keeps that error from going uncaught.
      stream.on('error', () => undefined);
      file = { stream, filename: info.filename ?? '' };
      resolve({ fields, file, done });
    });
    parser.on('filesLimit', () => fail(new S3Error('IncorrectNumberOfFilesInPostRequest')));
    // A client that goes away mid-form fails the parser, and so the file's stream: the stored
    // part is discarded. A plain pipe would leave the form waiting, its temp file open, for good.
    feed(ctx.req, parser);
  });
}

function tagsFrom(fields: FormFields): Record<string, string> {
  const text = fields.get('tagging');
  if (text === undefined) return {};
  const tags = tagSetFrom(parseXml(text, 'Tagging'));
  validateTags(tags);
  return tags;
}

/**
 * The redirect URL with bucket, key and etag appended, as S3 builds it; null when the field is not
 * a URL S3 can interpret, in which case S3 acts as if it were absent. Characters a URL may not
 * hold are percent-encoded (as a browser would); a control character makes it unreadable.
 */
function redirectTo(target: string, bucket: string, key: string, etag: string): string | null {
  if (hasControlCharacter(target)) return null;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return null;
  }
  const fragment = url.hash;
  url.hash = '';
  const base = url.href;
  const params = new URLSearchParams({ bucket, key, etag });
  return `${base}${base.includes('?') ? '&' : '?'}${params.toString()}${fragment}`;
}

export async function PostObject(ctx: S3Context): Promise<S3Response> {
  const contentType = header(ctx.req, 'content-type') ?? '';
  if (!/^multipart\/form-data/i.test(contentType)) {
    throw new S3Error('PreconditionFailed', 'Bucket POST must be of the enclosure-type multipart/form-data', { Condition: 'Bucket POST must be of the enclosure-type multipart/form-data' });
  }
  const { fields, file, done } = await readForm(ctx);
  try {
    const result = await upload(ctx, fields, file);
    await done;
    return result;
  } catch (err) {
    file.stream.resume();
    throw err;
  }
}

/**
 * The form with `${filename}` filled in, in every field but the signed policy: AWS expands the
 * variables before it checks the policy, so conditions and the stored values see the file's name.
 * The name goes in as it is (a function: a '$&' in it is no replacement pattern); in the key only
 * a name that is UTF-8, as a key field must be.
 */
function withFilename(fields: FormFields, filename: string): Map<string, string> {
  const form = new Map<string, string>();
  for (const [name, value] of fields) {
    const expand = name !== 'policy' && value.includes('${filename}');
    form.set(name, expand ? value.replace(/\$\{filename\}/g, () => (name === 'key' ? formKeyText(filename) : filename)) : value);
  }
  return form;
}

async function upload(ctx: S3Context, sent: Map<string, string>, file: FilePart): Promise<S3Response> {
  if (!sent.has('key')) throw new S3Error('InvalidArgument', 'Bucket POST must contain a field named \'key\'.  If it is specified, please check the order of the fields.', { ArgumentName: 'key', ArgumentValue: '' });
  const signed = await ctx.verifyForm(sent);
  const fields = withFilename(sent, file.filename);
  const key = fields.get('key')!;
  // The key (the file's name filled in) obeys the rule of a key in a path, before anything is looked up.
  if (key !== '') checkObjectKey(key);
  const aclText = fields.get('acl');
  // Signed or not, the form is admitted to write its own key (${filename} filled in), as a PUT of it would be.
  const resolved = await ctx.admit(signed?.principal ?? null, key, { facts: { 's3:x-amz-acl': aclText }, extras: { setsAcl: aclText !== undefined, setsTags: fields.has('tagging') } });
  const bucket = resolved.row;
  let range: { min: number; max: number } | undefined;
  if (signed) range = checkPostPolicy(parsePostPolicy(signed.policy), fields, bucket.name, ctx.now());
  if (key === '') throw new S3Error('InvalidArgument', 'User key must have a length greater than 0.', { ArgumentName: 'key', ArgumentValue: '' });

  const acl = aclText === undefined ? null : parseCannedAcl(aclText);
  if (acl) ctx.services.bucketConfig.checkAcl(resolved, acl, aclText);
  const storageClass = fields.get('x-amz-storage-class') ?? 'STANDARD';
  if (!STORAGE_CLASSES.includes(storageClass)) throw new S3Error('InvalidStorageClass', undefined, { StorageClassRequested: storageClass });
  const present = CHECKSUM_ALGORITHMS.filter((alg) => fields.has(checksumHeader(alg)));
  if (present.length > 1) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  const algorithm = present[0];
  const checksum = algorithm ? fields.get(checksumHeader(algorithm))! : undefined;
  if (algorithm && !validateChecksumValue(algorithm, checksum!)) throw new S3Error('InvalidRequest', `Value for ${checksumHeader(algorithm)} header is invalid.`);
  const tags = tagsFrom(fields);
  const stored = headersFromFields(fields);
  const encryption = encryptionRequest(ctx.req, fields);

  const digest = new BodyDigest({
    checksumAlgorithm: algorithm,
    maxSize: Math.min(ctx.limits.maxObjectSize, range?.max ?? Infinity),
    expect: { checksum: checksum === undefined ? undefined : () => checksum, minSize: range?.min, md5Base64: fields.get('content-md5') },
  });
  // The file's stream fails only when the form does (it ends inside the file, or the client goes
  // away): that is the client's malformed form, not a fault of the server.
  file.stream.on('error', (err) => digest.destroy(err instanceof S3Error ? err : new S3Error('MalformedPOSTRequest')));
  // The blob store reads the digest and sees its error; without a reader left it must not go uncaught.
  digest.on('error', () => undefined);
  // The form's other fields are not counted: a few hundred bytes beside the file.
  countReceivedBody(ctx.req, digest);
  if (file.stream.destroyed) digest.destroy(new S3Error('MalformedPOSTRequest'));
  else file.stream.pipe(digest);
  const row = await ctx.services.objects.putObject(
    {
      bucket,
      key,
      headers: stored.headers,
      userMetadata: stored.userMetadata,
      tags,
      storageClass,
      condition: { kind: 'none' },
      acl: acl === 'private' ? null : acl,
      encryption,
      // The file's size is known once it is stored: the quota is checked then, before the commit.
      beforeCommit: resolved.quota ? (size) => ctx.services.quotas.check(bucket, resolved.quota, key, size) : undefined,
    },
    digest,
    algorithm,
  );

  const location = objectLocation(ctx, bucket.name, key);
  // What PutObject answers besides its ETag: the version made and how the object is encrypted.
  const written = { ETag: row.etag, ...newVersionHeader(bucket, row.versionId), ...encryptionHeaders(row.encryption, encryption?.kind === 'SSE-C' ? encryption.customer : undefined) };
  const redirectField = fields.get('success_action_redirect') ?? fields.get('redirect');
  const redirect = redirectField ? redirectTo(redirectField, bucket.name, key, row.etag) : null;
  if (redirect) return { status: 303, headers: { ...written, Location: redirect } };
  const status = fields.get('success_action_status');
  const headers = { ...written, Location: location };
  if (status === '201') {
    // In no namespace, as S3 sends it (parsers that look for a bare <Key> depend on it).
    return { status: 201, headers, xml: { root: 'PostResponse', value: { Location: location, Bucket: bucket.name, Key: key, ETag: row.etag }, namespace: false } };
  }
  return { status: status === '200' ? 200 : 204, headers };
}
