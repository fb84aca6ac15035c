import { createHmac } from 'node:crypto';
import type { Credentials } from './raw-s3.js';
import { signingKey } from './raw-s3.js';

// Browser-form uploads (POST object) built as a browser page would: the policy document, its
// SigV4 (or SigV2) signature, and the fields, sent as multipart/form-data with fetch's FormData.

export interface PostFormInput {
  bucket: string;
  key: string;
  credentials: Credentials;
  /** Extra fields (they must be covered by `conditions` unless x-ignore-*). */
  fields?: Record<string, string>;
  /** Conditions besides bucket, key and the signing fields. */
  conditions?: unknown[];
  expiresInSeconds?: number;
  /** The policy's expiration as written (default: now + expiresInSeconds, ISO 8601 with Z). */
  expiration?: string;
  now?: Date;
  region?: string;
  version?: 'v4' | 'v2';
}

export function postPolicyFields(i: PostFormInput): Record<string, string> {
  const now = i.now ?? new Date();
  const expiration = i.expiration ?? new Date(now.getTime() + (i.expiresInSeconds ?? 300) * 1000).toISOString();
  const fields: Record<string, string> = { key: i.key, ...(i.fields ?? {}) };
  // As boto3 writes it: S3 fills ${filename} in before it checks the policy, so such a key is a prefix.
  const keyCondition = i.key.endsWith('${filename}') ? ['starts-with', '$key', i.key.slice(0, -'${filename}'.length)] : ['eq', '$key', i.key];
  const conditions: unknown[] = [{ bucket: i.bucket }, keyCondition, ...(i.conditions ?? [])];
  for (const name of Object.keys(i.fields ?? {})) {
    if (!name.toLowerCase().startsWith('x-ignore-') && !(i.conditions ?? []).some((c) => JSON.stringify(c).toLowerCase().includes(`"$${name.toLowerCase()}"`) || JSON.stringify(c).toLowerCase().includes(`"${name.toLowerCase()}":`))) {
      conditions.push({ [name]: i.fields![name] });
    }
  }
  if (i.version === 'v2') {
    const policy = Buffer.from(JSON.stringify({ expiration, conditions })).toString('base64');
    const signature = createHmac('sha1', i.credentials.secretAccessKey).update(policy).digest('base64');
    return { ...fields, AWSAccessKeyId: i.credentials.accessKeyId, policy, signature };
  }
  const date = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const region = i.region ?? 'us-east-1';
  const credential = `${i.credentials.accessKeyId}/${date.slice(0, 8)}/${region}/s3/aws4_request`;
  conditions.push({ 'x-amz-algorithm': 'AWS4-HMAC-SHA256' }, { 'x-amz-credential': credential }, { 'x-amz-date': date });
  const policy = Buffer.from(JSON.stringify({ expiration, conditions })).toString('base64');
  const signature = createHmac('sha256', signingKey(i.credentials.secretAccessKey, date.slice(0, 8), region)).update(policy).digest('hex');
  return { ...fields, 'x-amz-algorithm': 'AWS4-HMAC-SHA256', 'x-amz-credential': credential, 'x-amz-date': date, policy, 'x-amz-signature': signature };
}

/** A FormData with `fields` first and the file last, as S3 requires. */
export function formData(fields: Record<string, string>, file: Buffer | string, filename = 'upload.bin', type = 'application/octet-stream'): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([typeof file === 'string' ? Buffer.from(file) : file], { type }), filename);
  return form;
}

/** POSTs a signed form to `<endpoint>/<bucket>`. */
export function postForm(endpoint: string, i: PostFormInput & { file: Buffer | string; filename?: string }): Promise<Response> {
  return fetch(`${endpoint}/${i.bucket}`, { method: 'POST', body: formData(postPolicyFields(i), i.file, i.filename) });
}

/** A form as the bytes a browser sends, and its Content-Type (with the boundary), for raw requests. */
export async function formBytes(form: FormData): Promise<{ body: Buffer; contentType: string }> {
  const request = new Request('http://form.invalid/', { method: 'POST', body: form });
  return { body: Buffer.from(await request.arrayBuffer()), contentType: request.headers.get('content-type')! };
}
