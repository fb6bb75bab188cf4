import { spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Workspace } from '@sluice/runtime';
import { inject } from 'vitest';

const require = createRequire(import.meta.url);

/** The built `sluice` command, run with this Node. */
export const BIN = join(dirname(require.resolve('@sluice/cli/package.json')), 'dist', 'bin.js');
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const pipelineFile = (name: string): string => join(FIXTURES, 'pipelines', `${name}.mjs`);

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Start `sluice …`; the process is returned so a test can kill it. */
export function startSluice(args: readonly string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], {
    cwd: FIXTURES,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The exit and output of a started process. */
export function finished(child: ChildProcess): Promise<Result> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** How long one `sluice` command may take in the suites before it is taken for hung and killed. */
const COMMAND_LIMIT_MS = 90_000;

/** Run `sluice …` to its end (a command that hangs is killed, and its result says so). */
export async function sluice(args: readonly string[], env: Record<string, string> = {}): Promise<Result> {
  const child = startSluice(args, env);
  const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_LIMIT_MS);
  const result = await finished(child);
  clearTimeout(timer);
  if (result.signal === 'SIGKILL') result.stderr += `\n[hung: killed after ${COMMAND_LIMIT_MS} ms]`;
  return result;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Wait until `check` is true, looking every `every` ms, at most `limit` ms; returns whether it became true. */
export async function waitFor(check: () => boolean, limit = 60_000, every = 50): Promise<boolean> {
  for (let waited = 0; waited < limit; waited += every) {
    if (check()) return true;
    await sleep(every);
  }
  return check();
}

export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `sluice-fault-${prefix}-`));

/** A new workspace folder (created through the API, which is what `sluice init` does). */
export function newWorkspace(prefix: string): string {
  const dir = join(tempDir(prefix), 'ws');
  Workspace.create(dir).store.close();
  return dir;
}

/** Open a workspace for a look, and close it again. */
export async function withWorkspace<T>(dir: string, look: (ws: Workspace) => T | Promise<T>): Promise<T> {
  const ws = Workspace.open(dir);
  try {
    return await look(ws);
  } finally {
    await ws.close();
  }
}

/** A small seeded generator (mulberry32), so that a run of the suite can be replayed from its seed. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: FAULT_SEED when given, else a fresh one (printed with the figures). */
export function seed(): number {
  const given = process.env.FAULT_SEED;
  return given ? Number(given) : Math.floor(Math.random() * 2 ** 31);
}

/** Add a suite's figures to those printed at the end of the run. */
export function recordFigures(suite: string, figures: Record<string, unknown>): void {
  appendFileSync(inject('figuresFile'), `${JSON.stringify({ suite, ...figures })}\n`);
}

/** Is a process alive (and not a zombie)? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return !/^\d+ \(.*\) Z/.test(stat);
}

/** The command line of a live process ('' when it is gone). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/**
 * What a folder holds, as path → size and modification time (the run store's own files excepted: SQLite may
 * checkpoint them at any open). Two equal listings mean nothing was written.
 */
export function listing(root: string): Map<string, string> {
  const entries = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const rel = relative(root, path);
      if (/^\.sluice[/\\]runs\.db(-wal|-shm|-journal)?$/.test(rel)) continue;
      const info = lstatSync(path);
      entries.set(rel, info.isDirectory() ? 'dir' : `${info.size}:${info.mtimeMs}`);
      if (info.isDirectory()) walk(path);
    }
  };
  if (existsSync(root) && statSync(root).isDirectory()) walk(root);
  return entries;
}

/** What changed between two listings, for a failure message. */
export function changes(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [path, value] of after) if (before.get(path) !== value) out.push(`+ ${path}`);
  for (const path of before.keys()) if (!after.has(path)) out.push(`- ${path}`);
  return out;
}
