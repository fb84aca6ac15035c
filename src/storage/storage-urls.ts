// What the storage settings' URLs name, without loading a driver: the PostgreSQL driver and the
// AWS SDK are loaded only when a setting asks for them, so the embedded default does not carry
// them in its heap.

export function isPostgresUrl(url: string | undefined): url is string {
  return !!url && /^postgres(ql)?:\/\//i.test(url);
}

/** A scheme of two or more letters and a colon: `https:`, `ftp:`, `s3:` (one letter is a Windows drive). */
const URL_LIKE = /^[a-z][a-z0-9+.-]+:/i;

/**
 * `s3://bucket` or `s3://bucket/prefix/` from --blobs: the bucket and prefix (a prefix always ends
 * with '/'), or null when `url` is a folder (or unset). Any other URL is refused: taken for a
 * folder, `https://host/b` would quietly become the local folder ./https:/host/b.
 */
export function parseS3BlobUrl(url: string | undefined): { bucket: string; prefix: string } | null {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/i.exec(url ?? '');
  if (!m) {
    if (url !== undefined && URL_LIKE.test(url)) {
      throw new Error(`--blobs (SKEP_BLOBS) takes s3://BUCKET[/PREFIX] or a folder, not ${url} (an S3 service's own URL goes in --blobs-endpoint; ./${url} is a folder of that name)`);
    }
    return null;
  }
  const rest = (m[2] ?? '').replace(/^\/+/, '');
  return { bucket: m[1], prefix: rest === '' || rest.endsWith('/') ? rest : `${rest}/` };
}
