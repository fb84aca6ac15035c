// A full disk (or quota) is not a bug of the server: the request is refused with a clear answer
// (S3 507 XMinioStorageFull, API 507 storage-full), one warning is logged without a stack, and
// nothing partial is kept. These are the codes the file system and SQLite raise for it.

const FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/** The error code when `err` means "no space left", else undefined. */
export function storageFullCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && FULL_CODES.has(code) ? code : undefined;
}
