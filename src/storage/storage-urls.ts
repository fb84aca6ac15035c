// What the storage settings' URLs name, without loading a driver: the PostgreSQL driver and the
// AWS SDK are loaded only when a setting asks for them, so the embedded default does not carry
// them in its heap.

export function isPostgresUrl(url: string | undefined): url is string {
  return !!url && /^postgres(ql)?:\/\//i.test(url);
}

/**
 * `s3://bucket` or `s3://bucket/prefix/` from --blobs: the bucket and prefix (a prefix always ends
 * with '/'), or null when `url` is not an s3:// URL.
 */
export function parseS3BlobUrl(url: string | undefined): { bucket: string; prefix: string } | null {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/i.exec(url ?? '');
  if (!m) return null;
  const rest = (m[2] ?? '').replace(/^\/+/, '');
  return { bucket: m[1], prefix: rest === '' || rest.endsWith('/') ? rest : `${rest}/` };
}
