import { open, type FileHandle } from 'node:fs/promises';

/** fsync a folder so the names in it are durable. Some platforms cannot open folders; skip there. */
export async function syncFolder(path: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = codeOf(err);
    if (code === 'EISDIR' || code === 'EPERM' || code === 'EACCES') return;
    throw err;
  }
  try {
    await fh.sync();
  } catch (err) {
    const code = codeOf(err);
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EBADF') throw err;
  } finally {
    await fh.close();
  }
}

function codeOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}
