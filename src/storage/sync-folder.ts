import { open, type FileHandle } from 'node:fs/promises';
import { errorCode } from '../util/error-code.js';

/** fsync a folder so the names in it are durable. Some platforms cannot open folders; skip there. */
export async function syncFolder(path: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = errorCode(err);
    if (code === 'EISDIR' || code === 'EPERM' || code === 'EACCES') return;
    throw err;
  }
  try {
    await fh.sync();
  } catch (err) {
    const code = errorCode(err);
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EBADF') throw err;
  } finally {
    await fh.close();
  }
}

