import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** The bytes of a file, or of every file under a folder (0 when it is not there). */
export async function diskUsage(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const entry of await readdir(path)) total += await diskUsage(join(path, entry));
  return total;
}
