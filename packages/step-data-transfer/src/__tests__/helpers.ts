import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { PipelineRun } from '@sluice/runtime';

export function tempDir(prefix = 'sluice-transfer-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Write files (relative path → content) under a folder; returns the folder. */
export function writeTree(root: string, files: Record<string, string | Uint8Array>): string {
  for (const [rel, content] of Object.entries(files)) {
    const path = join(root, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
  return root;
}

/** Node scripts run by the test step kind. */
export const SCRIPTS = {
  // write the input file (arg 1) upper-cased into <out>/data.txt (arg 2)
  'make.js': `
const fs = require('fs'), path = require('path');
const [input, out] = process.argv.slice(2);
fs.writeFileSync(path.join(out, 'data.txt'), fs.readFileSync(input, 'utf8').toUpperCase());
`,
  // wrap the file <in>/<name> (args 1, 2) in brackets into <out>/result.txt (arg 3)
  'wrap.js': `
const fs = require('fs'), path = require('path');
const [input, name, out] = process.argv.slice(2);
fs.writeFileSync(path.join(out, 'result.txt'), '[' + fs.readFileSync(path.join(input, name), 'utf8') + ']');
`,
};

/** Every status a step of the run reached, by step name. */
export function statuses(run: PipelineRun): Record<string, string> {
  return Object.fromEntries(run.getSteps().map((step) => [step.name, step.status]));
}
