#!/usr/bin/env node
import { main } from './cli.js';

// A reader that stops early (`sluice logs | head`) is not an error: the rest of the output is dropped.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
});

process.exitCode = await main(process.argv);
