import { header, type S3Context } from './context.js';
import { percentDecode, uriEncode } from '../sigv4/uri-encode.js';

/**
 * An object's absolute URL, as S3 gives it in CompleteMultipartUploadResult and a POST form's reply:
 * the scheme and host the request came by, in the request's own style (virtual-hosted when its path
 * is the key of the URL alone, '/' for a form posted to the bucket's host), the key form-encoded as
 * S3 does ('/' as %2F, ' ' as '+').
 */
export function objectLocation(ctx: S3Context, bucket: string, key: string): string {
  const scheme = (ctx.req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const path = (ctx.req.url ?? '').split('?')[0];
  const virtualHosted = percentDecode(path) === `/${ctx.op.key ?? ''}`;
  const encodedKey = new URLSearchParams([['', key]]).toString().slice(1);
  return `${scheme}://${header(ctx.req, 'host') ?? ''}/${virtualHosted ? '' : `${uriEncode(bucket, false)}/`}${encodedKey}`;
}
