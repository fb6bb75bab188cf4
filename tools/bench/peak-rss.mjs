// Preloaded (`node --import`) into the `sluice run` processes of the benchmark's (k): writes the process's
// peak resident set size (KiB) to SLUICE_BENCH_RSS_FILE when it exits.
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  const file = process.env.SLUICE_BENCH_RSS_FILE;
  if (file) writeFileSync(file, String(process.resourceUsage().maxRSS));
});
