import { SluiceError } from '@sluice/core';

/**
 * Run `work` for every item, at most `concurrency` at once. After the first failure no new item starts;
 * the call settles only when every started item has, then rejects with that first failure. (So a caller
 * can clean up knowing nothing is still being written.)
 */
export async function forEachLimited<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure && next < items.length) {
      const index = next++;
      if (signal?.aborted) {
        failure ??= { error: new SluiceError('RUN_CANCELED', 'The transfer was canceled.') };
        return;
      }
      try {
        await work(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const width = Math.max(1, Math.min(Math.floor(concurrency) || 1, items.length));
  await Promise.all(Array.from({ length: width }, worker));
  if (failure) throw failure.error;
}
