import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(prefix = 'sluice-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Write files (relative path → content) under a folder; returns the folder. */
export function writeTree(root: string, files: Record<string, string>): string {
  for (const [rel, content] of Object.entries(files)) {
    const path = join(root, rel);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
  }
  return root;
}

/** Node scripts used as steps: they read args and write to output folders. */
export const SCRIPTS = {
  // copy input file (arg 1) upper-cased into output folder (arg 2); append a marker to a counter file
  'upper.js': `
const fs = require('fs'), path = require('path');
const [input, out, counter] = process.argv.slice(2);
const src = fs.statSync(input).isDirectory() ? path.join(input, fs.readdirSync(input)[0]) : input;
fs.writeFileSync(path.join(out, 'data.txt'), fs.readFileSync(src, 'utf8').toUpperCase());
if (counter) fs.appendFileSync(counter, 'upper\\n');
console.log('upper done');
`,
  // write "<prefix>:<content of input>" into output (arg 3)
  'prefix.js': `
const fs = require('fs'), path = require('path');
const [prefix, input, out, counter] = process.argv.slice(2);
const text = fs.readFileSync(path.join(input, 'data.txt'), 'utf8');
fs.writeFileSync(path.join(out, 'data.txt'), prefix + ':' + text);
if (counter) fs.appendFileSync(counter, 'prefix\\n');
const ctx = JSON.parse(fs.readFileSync(process.env.SLUICE_CONTEXT, 'utf8'));
fs.appendFileSync(ctx.metricsFile, JSON.stringify({ name: 'length', value: text.length }) + '\\n');
`,
  // constant output regardless of input size: writes the length bucket of input
  'bucket.js': `
const fs = require('fs'), path = require('path');
const [input, out, counter] = process.argv.slice(2);
const text = fs.readFileSync(path.join(input, 'data.txt'), 'utf8');
fs.writeFileSync(path.join(out, 'data.txt'), text.length > 5 ? 'long' : 'short');
if (counter) fs.appendFileSync(counter, 'bucket\\n');
`,
  'fail.js': `console.error('something broke'); process.exit(3);`,
  'sleep.js': `
const [ms, marker] = process.argv.slice(2);
if (marker) require('fs').writeFileSync(marker, String(process.pid));
setTimeout(() => {}, Number(ms));
`,
  'consume.js': `
const fs = require('fs'), path = require('path');
const [input, counter] = process.argv.slice(2);
fs.readdirSync(input);
if (counter) fs.appendFileSync(counter, 'consume\\n');
`,
};
