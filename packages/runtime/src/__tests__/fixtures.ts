import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

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

const runtimeDist = pathToFileURL(resolve(__dirname, '../../dist/index.js')).href;
const coreDist = pathToFileURL(resolve(__dirname, '../../../core/dist/index.js')).href;

/**
 * A runner: the script of a separate Node process that uses the built packages. It defines the test step
 * kind (same kind and fingerprint as nodeStepPlugin, so runs in the test process and in runners reuse each
 * other) and then runs `body`, which has `Pipeline`, `PipelineData`, `OutputFileDatasetConfig`,
 * `Experiment`, `Workspace` and `step({ name, script, sourceDirectory, arguments?, inputs?, outputs? })`
 * in scope, and `process.argv[2]` as `arg`.
 */
export function writeRunner(file: string, body: string): string {
  writeFileSync(
    file,
    `
import { Pipeline, PipelineData, OutputFileDatasetConfig, defineStep, canonicalArgument } from ${JSON.stringify(coreDist)};
import { Experiment, Workspace } from ${JSON.stringify(runtimeDist)};
const plugin = {
  type: 'step', kind: 'test-node-script', name: 'runtime-tests', version: '1.0.0', coreRange: '^0.1.0', reuseVersion: '1',
  fingerprint: (step) => [
    { name: 'script', value: step.config.script },
    { name: 'arguments', value: step.config.arguments.map((a) => canonicalArgument(step, a)) },
  ],
  async execute(ctx) {
    const r = await ctx.compute.runProcess({ command: process.execPath,
      args: [ctx.step.config.script, ...ctx.step.config.arguments.map(ctx.resolveArgument)],
      cwd: ctx.sourceDirectory, env: { PATH: process.env.PATH, SLUICE_CONTEXT: ctx.contextFile } },
      { signal: ctx.signal, onStdout: ctx.logs.stdout, onStderr: ctx.logs.stderr });
    if (r.exitCode === 0) return { status: 'Finished', exitCode: 0 };
    if (r.canceled) return { status: 'Canceled' };
    return { status: 'Failed', exitCode: r.exitCode, error: 'exited with code ' + r.exitCode };
  },
};
const step = (o) => defineStep({ kind: plugin.kind, plugin, name: o.name, sourceDirectory: o.sourceDirectory,
  arguments: o.arguments ?? [], inputs: o.inputs ?? [], outputs: o.outputs ?? [],
  config: { script: o.script, arguments: o.arguments ?? [] } });
const arg = process.argv[2];
${body}
`,
  );
  return file;
}

/** Start a runner; its stdout is collected in `output()`, its stderr goes to the test's. */
export function startRunner(
  file: string,
  arg = '',
): { child: ChildProcess; exited: Promise<number | null>; output: () => string } {
  const child = spawn(process.execPath, [file, arg], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, exited, output: () => text };
}

/** Wait (bounded) until `check` holds; false if it never did. */
export async function waitFor(check: () => boolean, { tries = 400, everyMs = 50 } = {}): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (check()) return true;
    await new Promise((done) => setTimeout(done, everyMs));
  }
  return check();
}

/** Is the process running? A zombie (ended, not reaped) is not. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return process.platform !== 'linux';
  }
}
