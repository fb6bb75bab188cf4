import type { TransferProgress } from '@sluice/core';

/** Transfers of this many files or fewer are logged file by file; larger ones every 10%. */
const FILE_BY_FILE = 10;

/**
 * A transfer's `onProgress` that writes a line every 10% (by bytes, or by files when there are no bytes)
 * and after each file of a small transfer: `upload 40%: 12/30 files, 12.0 MiB of 30.0 MiB`.
 */
export function progressLogger(
  log: (message: string) => void,
  phase: string,
): (progress: TransferProgress) => void {
  let reported = 0;
  let files = 0;
  return (progress) => {
    const fraction =
      progress.totalBytes > 0
        ? progress.bytes / progress.totalBytes
        : progress.totalFiles > 0
          ? progress.files / progress.totalFiles
          : 1;
    const tenth = Math.min(10, Math.floor(fraction * 10));
    const fileDone = progress.files > files;
    files = Math.max(files, progress.files);
    if (tenth > reported || (fileDone && progress.totalFiles <= FILE_BY_FILE)) {
      reported = Math.max(reported, tenth);
      log(
        `${phase} ${Math.floor(fraction * 100)}%: ${progress.files}/${progress.totalFiles} files, ${formatBytes(progress.bytes)} of ${formatBytes(progress.totalBytes)}${fileDone && progress.path ? ` (${progress.path})` : ''}`,
      );
    }
  };
}

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}
