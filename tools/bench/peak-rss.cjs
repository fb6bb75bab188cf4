// Preloaded (`node --require`) into the `sluice run` processes of the benchmark's (j): writes the process's
// peak resident set size (KiB) to SLUICE_BENCH_RSS_FILE when it exits.
const { writeFileSync } = require('node:fs');

process.on('exit', () => {
  const file = process.env.SLUICE_BENCH_RSS_FILE;
  if (file) writeFileSync(file, String(process.resourceUsage().maxRSS));
});
