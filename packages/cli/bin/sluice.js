#!/usr/bin/env node
// The `sluice` command. This file is committed (npm links it at install time, before anything is built)
// and loads the built CLI; in a checkout where the CLI is not built yet it says how to build it.
import { existsSync } from 'node:fs';

const built = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write(
    'sluice: @sluice/cli is not built yet; build it with `npm run build` in the repository root, then try again.\n',
  );
  process.exit(2);
}
await import(built.href);
