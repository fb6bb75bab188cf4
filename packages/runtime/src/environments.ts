import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import {
  copyFile,
  open,
  mkdir,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import {
  DEFAULT_ENVIRONMENT_NAME,
  Environment,
  SluiceError,
  digestValue,
  valuePart,
  type FingerprintPart,
  type MaterialisedPython,
} from '@sluice/core';
import { diskUsage } from './disk-usage.js';
import { claimLease } from './lease.js';
import type { Workspace } from './workspace.js';

/** The folder of the workspace's data folder that holds built environments. */
export const ENVIRONMENTS_DIR = 'environments';

/** What an environment resolved to: the interpreter's version and the installed distributions. */
export interface EnvironmentLock {
  /** e.g. `3.11.2` */
  readonly python: string;
  /** `name==version` (pip freeze), sorted. */
  readonly packages: readonly string[];
}

/** An environment ready for steps to run in. */
export interface MaterialisedEnvironment {
  /** The digest of what building it depends on: the name of its folder in the cache. */
  readonly key: string;
  readonly name: string;
  readonly version: string;
  /** True when steps run in the interpreter as it is (nothing built). */
  readonly inherit: boolean;
  /** The interpreter to start. */
  readonly interpreter: string;
  readonly lock: EnvironmentLock;
  /** The built environment's folder (none for an inherited interpreter). */
  readonly path?: string;
  /** This call built it (it was not in the cache). */
  readonly built: boolean;
}

export interface MaterialiseOptions {
  signal?: AbortSignal;
  /**
   * Hears what is happening, a line at a time: `status` lines (waiting for another build, each build
   * command, built) and the commands' `output`.
   */
  onProgress?: (line: string, kind: 'status' | 'output') => void;
  /** Who builds, as the run store's lease names it: a step run's id (default: this process). */
  holder?: string;
  /** Build it again even when it is in the cache (new versions of unpinned packages). */
  rebuild?: boolean;
}

/** What `environment.json` in a built environment's folder holds. */
interface BuildRecord {
  format: 1;
  key: string;
  name: string;
  version: string;
  definition: unknown;
  lock: EnvironmentLock;
  /** Relative to the build's folder. */
  interpreter: string;
  builtAt: string;
  seconds: number;
}

interface Probe {
  executable: string;
  version: string;
  packages?: string[];
  /** Folders whose modification time changes when a distribution is installed or removed. */
  paths?: string[];
}

/** The interpreter's facts; the list of distributions is pip freeze's `name==version`, first on sys.path wins. */
const PROBE = `
import json, platform, sys
out = {"executable": sys.executable, "version": platform.python_version()}
if "--packages" in sys.argv:
    from importlib import metadata
    seen, packages = set(), []
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        key = name.lower().replace("_", "-").replace(".", "-")
        if key in seen:
            continue
        seen.add(key)
        packages.append(name + "==" + dist.version)
    out["packages"] = sorted(packages, key=str.lower)
    out["paths"] = [p for p in sys.path if p]
print(json.dumps(out))
`;

const sortLines = (lines: string[]): string[] =>
  lines.sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));

/** The run store's table of which step run used which environment (for gc and `sluice show`). */
const MIGRATIONS = {
  1: `
    CREATE TABLE IF NOT EXISTS environment_uses (
      step_run_id TEXT PRIMARY KEY,
      key TEXT NOT NULL,
      name TEXT NOT NULL,
      version TEXT NOT NULL,
      lock TEXT NOT NULL,
      used_at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS environment_uses_key ON environment_uses(key);
  `,
};

const extended = new WeakSet<object>();
function uses(ws: Workspace): Workspace['store'] {
  if (!extended.has(ws.store)) {
    ws.store.extend('environment', MIGRATIONS);
    extended.add(ws.store);
  }
  return ws.store;
}

/** Run a command; its output goes to `onLine` a line at a time. Rejects only when it cannot start. */
function run(
  command: string,
  args: string[],
  options: {
    signal?: AbortSignal;
    onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
    env?: NodeJS.ProcessEnv;
  },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      signal: options.signal,
    });
    const text = { stdout: '', stderr: '' };
    for (const stream of ['stdout', 'stderr'] as const) {
      let pending = '';
      child[stream].setEncoding('utf8');
      child[stream].on('data', (chunk: string) => {
        text[stream] += chunk;
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop()!;
        for (const line of lines) options.onLine?.(line, stream);
      });
      child[stream].on('end', () => pending && options.onLine?.(pending, stream));
    }
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, ...text }));
  });
}

function interpreterNotFound(environment: Environment, cause: unknown): SluiceError {
  return new SluiceError(
    'ENVIRONMENT_INTERPRETER_NOT_FOUND',
    `Environment "${environment.name}": cannot start the Python interpreter "${environment.python.interpreter}" (${(cause as Error).message}). Install Python 3, or set python.interpreter to its full path (new Environment({ name, python: { interpreter: '/usr/bin/python3' } })).`,
    { cause, details: { environment: environment.name, interpreter: environment.python.interpreter } },
  );
}

async function probe(interpreter: string, environment: Environment, packages: boolean): Promise<Probe> {
  let result;
  try {
    result = await run(interpreter, ['-c', PROBE, ...(packages ? ['--packages'] : [])], {});
  } catch (error) {
    throw interpreterNotFound(environment, error);
  }
  if (result.code !== 0) {
    throw interpreterNotFound(environment, new Error(result.stderr.trim().split('\n').pop() ?? 'it failed'));
  }
  return JSON.parse(result.stdout) as Probe;
}

/**
 * An interpreter's probe is kept while the folders its distributions live in are unchanged (installing or
 * removing one adds or removes a folder there), so steps do not start Python each time: in memory, and in
 * the workspace for the next process (`environments/probes/`), unless the interpreter is a script (a
 * pyenv shim may start another Python tomorrow, so it is probed once per process).
 */
const probed = new Map<string, { probe: Probe; stamps: string }>();

async function stamps(paths: readonly string[]): Promise<string> {
  const times = await Promise.all(
    paths.map((path) =>
      stat(path).then(
        (info) => `${info.mtimeMs}:${info.ino}`,
        () => '-',
      ),
    ),
  );
  return times.join('\n');
}

const probeStamps = (found: Probe): Promise<string> => stamps([found.executable, ...(found.paths ?? [])]);

/** The file a command runs (searched on PATH unless it names a folder), if there is one. */
async function commandFile(command: string): Promise<string | undefined> {
  const candidates = command.includes('/')
    ? [resolve(command)]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, command));
  for (const candidate of candidates) {
    const info = await stat(candidate).catch(() => undefined);
    if (info?.isFile() && info.mode & 0o111) return candidate;
  }
  return undefined;
}

/** Whether a file is a script (`#!`), which may run another program each time. */
async function isScript(file: string): Promise<boolean> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return true;
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer.toString('latin1') === '#!';
  } finally {
    await handle.close();
  }
}

/** Checks of an interpreter under way: steps that start together (a wide pipeline) share one. */
const checking = new Map<string, Promise<Probe>>();

/** The interpreter's version, executable and distributions, probed again only when they may have changed. */
async function probeInterpreter(ws: Workspace, environment: Environment): Promise<Probe> {
  const command = environment.python.interpreter;
  const file = await commandFile(command);
  // what the interpreter sees besides its files: where it looks for modules
  const key = JSON.stringify([file ?? command, process.env.PYTHONPATH ?? '', process.env.PYTHONHOME ?? '']);
  let pending = checking.get(key);
  if (!pending) {
    pending = checkInterpreter(ws, environment, file, key).finally(() => checking.delete(key));
    checking.set(key, pending);
  }
  return pending;
}

async function checkInterpreter(
  ws: Workspace,
  environment: Environment,
  file: string | undefined,
  key: string,
): Promise<Probe> {
  const command = environment.python.interpreter;
  const known = probed.get(key);
  if (known && (await probeStamps(known.probe)) === known.stamps) return known.probe;
  const persist = file !== undefined && !(await isScript(file));
  const saved = join(ws.dataDir, ENVIRONMENTS_DIR, 'probes', `${digestValue(key).slice(0, 32)}.json`);
  if (persist && !known) {
    const kept = await readFile(saved, 'utf8').then(
      (text) => JSON.parse(text) as { probe: Probe; stamps: string },
      () => undefined,
    );
    if (kept && (await probeStamps(kept.probe)) === kept.stamps) {
      probed.set(key, kept);
      return kept.probe;
    }
  }
  const found = await probe(command, environment, true);
  const entry = { probe: found, stamps: await probeStamps(found) };
  probed.set(key, entry);
  if (persist) {
    // written aside and renamed: a reader finds the whole file or none
    const partial = `${saved}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      await mkdir(dirname(saved), { recursive: true });
      await writeFile(partial, JSON.stringify(entry));
      await rename(partial, saved);
    } catch {
      await rm(partial, { force: true });
    }
  }
  return found;
}

function checkVersion(environment: Environment, version: string): void {
  const wanted = environment.python.version;
  if (wanted === undefined || version === wanted || version.startsWith(`${wanted}.`)) return;
  throw new SluiceError(
    'ENVIRONMENT_PYTHON_MISMATCH',
    `Environment "${environment.name}" needs Python ${wanted}, but "${environment.python.interpreter}" is Python ${version}. Set python.interpreter to a Python ${wanted} (e.g. 'python${wanted.split('.').slice(0, 2).join('.')}'), or install conda or micromamba to have it installed.`,
    { details: { environment: environment.name, wanted, found: version } },
  );
}

/** conda, or a drop-in for it: named by MAMBA_EXE / CONDA_EXE, else micromamba, mamba or conda on PATH. */
async function findConda(): Promise<string | undefined> {
  const named = [process.env.MAMBA_EXE, process.env.CONDA_EXE].filter((path): path is string =>
    Boolean(path),
  );
  for (const command of [...named, 'micromamba', 'mamba', 'conda']) {
    const file = await commandFile(command);
    if (file) return file;
  }
  return undefined;
}

const readRecord = async (folder: string): Promise<BuildRecord | undefined> =>
  readFile(join(folder, 'environment.json'), 'utf8').then(
    (text) => JSON.parse(text) as BuildRecord,
    () => undefined,
  );

/** The built environment a cache entry points at, if it is complete. */
async function cached(
  root: string,
  key: string,
): Promise<{ folder: string; record: BuildRecord } | undefined> {
  const target = await readlink(join(root, key)).catch(() => undefined);
  if (!target) return undefined;
  const folder = join(root, target);
  const record = await readRecord(folder);
  return record ? { folder, record } : undefined;
}

function fromRecord(folder: string, record: BuildRecord, built: boolean): MaterialisedEnvironment {
  return {
    key: record.key,
    name: record.name,
    version: record.version,
    inherit: false,
    interpreter: join(folder, record.interpreter),
    lock: record.lock,
    path: folder,
    built,
  };
}

/**
 * Make an environment ready for steps: an inherited interpreter is probed (its version and distributions);
 * otherwise the environment is built once into the workspace's cache, keyed by the digest of what building
 * it depends on, in a folder of its own that the cache entry (a link) points at only once it is complete.
 * Concurrent callers, in any process using the workspace, build it once: the others wait for it.
 */
export async function materialiseEnvironment(
  ws: Workspace,
  environment: Environment,
  options: MaterialiseOptions = {},
): Promise<MaterialisedEnvironment> {
  const progress = (line: string, kind: 'status' | 'output' = 'status'): void =>
    options.onProgress?.(line, kind);
  const label = `${environment.name}:${environment.version}`;
  if (environment.inherits) {
    const found = await probeInterpreter(ws, environment);
    checkVersion(environment, found.version);
    return {
      key: digestValue({ build: environment.buildDefinition(), executable: found.executable }).slice(0, 32),
      name: environment.name,
      version: environment.version,
      inherit: true,
      interpreter: environment.python.interpreter,
      lock: { python: found.version, packages: found.packages ?? [] },
      built: false,
    };
  }
  const useConda = environment.condaPackages.length > 0;
  const conda = useConda ? await findConda() : undefined;
  if (useConda && !conda) {
    throw new SluiceError(
      'CONDA_NOT_INSTALLED',
      `Environment "${environment.name}" has conda packages (${environment.condaPackages.join(', ')}), and no conda is installed here. Install micromamba (https://mamba.readthedocs.io) or conda and put it on PATH, or move the packages to the environment's pip list.`,
      { details: { environment: environment.name, condaPackages: [...environment.condaPackages] } },
    );
  }
  // a conda environment brings its own Python; a virtual environment is made from the given one
  const base = useConda ? undefined : await probeInterpreter(ws, environment);
  if (base) checkVersion(environment, base.version);
  const key = digestValue({
    build: environment.buildDefinition(),
    base: base ? { executable: base.executable, version: base.version } : 'conda',
  }).slice(0, 32);
  const root = join(ws.dataDir, ENVIRONMENTS_DIR);
  if (!options.rebuild) {
    const hit = await cached(root, key);
    if (hit) return fromRecord(hit.folder, hit.record, false);
  }
  await mkdir(root, { recursive: true });
  const signal = options.signal ?? new AbortController().signal;
  const holder = options.holder ?? `environment-build.${process.pid}.${randomBytes(4).toString('hex')}`;
  const claim = await claimLease(ws.store, `environment:${key}`, holder, {
    signal,
    wait: () => true,
    settle: async () => !options.rebuild && (await cached(root, key)) !== undefined,
    onWait: (other) =>
      progress(
        `waiting for environment ${label}: ${other.runId ? `run ${other.runId}` : 'another process'} (pid ${other.pid} on ${other.host}) is building it`,
      ),
  });
  if (!claim.lease) {
    const hit = await cached(root, key);
    if (hit) return fromRecord(hit.folder, hit.record, false);
    throw new SluiceError('RUN_CANCELED', `Stopped while waiting for environment ${label} to be built.`);
  }
  try {
    if (!options.rebuild) {
      const hit = await cached(root, key);
      if (hit) return fromRecord(hit.folder, hit.record, false);
    }
    if (claim.tookOver) progress(`an earlier build of environment ${label} was stopped; building it again`);
    return await build(environment, { root, key, base, conda, signal, progress });
  } finally {
    claim.lease.release();
  }
}

/** Lines of pip's output that say what went wrong. */
function pipError(output: string): string {
  const lines = output.split('\n').map((line) => line.trimEnd());
  const errors = lines.filter((line) => /^(ERROR|error):/.test(line.trim()));
  return (errors.length > 0 ? errors : lines.filter(Boolean).slice(-8)).join('\n');
}

async function build(
  environment: Environment,
  context: {
    root: string;
    key: string;
    base: Probe | undefined;
    conda: string | undefined;
    signal: AbortSignal;
    progress: (line: string, kind?: 'status' | 'output') => void;
  },
): Promise<MaterialisedEnvironment> {
  const { root, key, base, conda, signal, progress } = context;
  const label = `${environment.name}:${environment.version}`;
  const started = Date.now();
  // a folder of its own, never moved (scripts pip installs name it), made the cache entry only when complete
  const folder = join(root, `${key}.${randomBytes(6).toString('hex')}`);
  await mkdir(folder);
  const logFile = join(folder, 'build.log');
  const log: WriteStream = createWriteStream(logFile);
  const prefix = join(folder, 'env');
  const python =
    process.platform === 'win32' ? join(prefix, 'Scripts', 'python.exe') : join(prefix, 'bin', 'python');
  let output = '';
  const step = async (what: string, command: string, args: string[]): Promise<void> => {
    progress(`environment ${label}: ${what}`);
    log.write(`$ ${[command, ...args].join(' ')}\n`);
    const result = await run(command, args, {
      signal,
      env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1', PIP_PROGRESS_BAR: 'off' },
      onLine: (line) => {
        log.write(`${line}\n`);
        if (line.trim()) progress(line, 'output');
      },
    }).catch((error: unknown) => {
      if (signal.aborted) throw error;
      return { code: -1, stdout: '', stderr: (error as Error).message };
    });
    output = `${result.stdout}\n${result.stderr}`;
    if (result.code !== 0) throw new BuildStepFailed(what, output);
  };
  try {
    if (conda) {
      const version = environment.python.version ? `python=${environment.python.version}` : 'python';
      const channels = environment.condaChannels.flatMap((channel) => ['-c', channel]);
      await step(`conda create (${environment.condaPackages.length} packages)`, conda, [
        'create',
        '--yes',
        '--quiet',
        '--prefix',
        prefix,
        ...channels,
        version,
        'pip',
        ...environment.condaPackages,
      ]);
    } else {
      await step('python -m venv', base!.executable, ['-m', 'venv', prefix]);
    }
    const requirements: string[] = [...environment.pip];
    if (environment.requirements !== undefined) {
      await writeFile(join(folder, 'requirements.txt'), environment.requirements);
      requirements.push('-r', join(folder, 'requirements.txt'));
    }
    if (requirements.length > 0) {
      const { indexUrl, extraIndexUrls = [], findLinks = [], noIndex } = environment.index;
      await step(
        `pip install ${environment.pip.join(' ')}${environment.requirements !== undefined ? ' -r requirements.txt' : ''}`.trim(),
        python,
        [
          '-m',
          'pip',
          'install',
          ...(indexUrl ? ['--index-url', indexUrl] : []),
          ...extraIndexUrls.flatMap((url) => ['--extra-index-url', url]),
          ...findLinks.flatMap((link) => ['--find-links', link]),
          ...(noIndex ? ['--no-index'] : []),
          ...requirements,
        ],
      );
    }
    await step('pip freeze', python, ['-m', 'pip', 'freeze']);
    const packages = sortLines(
      output
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith('#')),
    );
    const facts = await probe(python, environment, false);
    const record: BuildRecord = {
      format: 1,
      key,
      name: environment.name,
      version: environment.version,
      definition: environment.toJSON(),
      lock: { python: facts.version, packages },
      interpreter: python.slice(folder.length + 1),
      builtAt: new Date().toISOString(),
      seconds: (Date.now() - started) / 1000,
    };
    await writeFile(join(folder, 'environment.json'), `${JSON.stringify(record, null, 2)}\n`);
    await new Promise<void>((resolve) => log.end(resolve));
    // the cache entry appears, or is replaced, in one rename: complete or not there at all
    const link = join(root, `${key}.link-${randomBytes(4).toString('hex')}`);
    await symlink(basename(folder), link);
    await rename(link, join(root, key));
    progress(`environment ${label} built in ${record.seconds.toFixed(1)} s (${packages.length} packages)`);
    return fromRecord(folder, record, true);
  } catch (error) {
    await new Promise<void>((resolve) => log.end(resolve));
    // the build log outlives the failed build
    const kept = join(root, 'logs', `${key}-${new Date().toISOString().replaceAll(':', '-')}.log`);
    await mkdir(join(root, 'logs'), { recursive: true });
    await copyFile(logFile, kept).catch(() => {});
    await rm(folder, { recursive: true, force: true });
    if (!(error instanceof BuildStepFailed)) throw error;
    throw buildError(environment, error, kept);
  }
}

class BuildStepFailed extends Error {
  constructor(
    readonly what: string,
    readonly output: string,
  ) {
    super(`${what} failed`);
  }
}

function buildError(environment: Environment, failure: BuildStepFailed, log: string): SluiceError {
  const details = { environment: environment.name, log };
  const missing =
    /No matching distribution found for ([^\s]+)/.exec(failure.output) ??
    /Could not find a version that satisfies the requirement ([^\s]+)/.exec(failure.output);
  if (missing) {
    const requirement = missing[1]!;
    const where = environment.index.noIndex
      ? `in ${environment.index.findLinks?.join(', ') ?? 'no folder (noIndex is set and findLinks is empty)'}`
      : `in ${environment.index.indexUrl ?? "pip's configured index"}${environment.index.findLinks ? ` or ${environment.index.findLinks.join(', ')}` : ''}`;
    return new SluiceError(
      'ENVIRONMENT_PACKAGE_NOT_FOUND',
      `Environment "${environment.name}": pip found no ${requirement} ${where}. Check the name and version in the environment's pip list, or point indexUrl/findLinks where it is. pip said:\n${pipError(failure.output)}\nBuild log: ${log}`,
      { details: { ...details, package: requirement.replace(/[<>=!~;[].*$/, '') } },
    );
  }
  return new SluiceError(
    'ENVIRONMENT_BUILD_FAILED',
    `Environment "${environment.name}": ${failure.what} failed. Fix what it says, then run the step again (or sluice env build ${environment.name}):\n${pipError(failure.output)}\nBuild log: ${log}`,
    { details },
  );
}

/**
 * The part of a step's fingerprint the environment gives: its name, version and variables, and its
 * resolved lock (not the packages asked for: what they resolved to).
 */
export function environmentPart(
  environment: Environment,
  materialised: MaterialisedEnvironment,
): FingerprintPart {
  const definition = environment.toJSON();
  return valuePart('environment', {
    name: definition.name,
    version: definition.version,
    environmentVariables: definition.environmentVariables,
    ...(definition.secretEnvironmentVariables
      ? { secretEnvironmentVariables: definition.secretEnvironmentVariables }
      : {}),
    lock: materialised.lock,
  });
}

/** The environment a step of a kind that runs Python runs in: its own, or python3 as it is. */
export function pythonEnvironmentOf(environment: Environment | undefined): Environment {
  return environment ?? new Environment({ name: DEFAULT_ENVIRONMENT_NAME });
}

/** What a step of a kind that runs Python is given. */
export function materialisedPython(materialised: MaterialisedEnvironment): MaterialisedPython {
  return {
    interpreter: materialised.interpreter,
    version: materialised.lock.python,
    packages: materialised.lock.packages,
  };
}

/** Note that a step run used an environment (what `sluice show` lists, and what gc keeps). */
export function recordEnvironmentUse(
  ws: Workspace,
  stepRunId: string,
  materialised: MaterialisedEnvironment,
): void {
  uses(ws)
    .prepare(
      `INSERT OR REPLACE INTO environment_uses (step_run_id, key, name, version, lock, used_at) VALUES (?, ?, ?, ?, ?, ?)`,
    )
    .run(
      stepRunId,
      materialised.key,
      materialised.name,
      materialised.version,
      JSON.stringify(materialised.lock),
      new Date().toISOString(),
    );
}

/** The environment a step run used, with its lock (undefined for a step that runs no Python). */
export function stepRunEnvironment(
  ws: Workspace,
  stepRunId: string,
): { key: string; name: string; version: string; lock: EnvironmentLock } | undefined {
  const row = uses(ws)
    .prepare('SELECT key, name, version, lock FROM environment_uses WHERE step_run_id = ?')
    .get(stepRunId) as { key: string; name: string; version: string; lock: string } | undefined;
  return row ? { ...row, lock: JSON.parse(row.lock) as EnvironmentLock } : undefined;
}

/**
 * When a step's environment could not be built: its build log becomes the step's stderr (what `sluice logs`
 * shows), in the step's log folder.
 */
export async function keepBuildLogWithStep(
  ws: Workspace,
  stepRunId: string,
  workDir: string,
  error: unknown,
): Promise<void> {
  const log = (error as SluiceError)?.details?.log;
  if (typeof log !== 'string') return;
  await mkdir(workDir, { recursive: true });
  await copyFile(log, join(workDir, 'stderr.txt')).catch(() => {});
  ws.store.updateStepRun(stepRunId, { logDir: workDir });
}

/** One environment in the workspace's cache. */
export interface CachedEnvironment {
  key: string;
  name: string;
  version: string;
  path: string;
  lock: EnvironmentLock;
  builtAt: string;
  /** Step runs that used it, and the newest use. */
  uses: number;
  lastUsedAt: string | null;
}

/** The environments built in the workspace. */
export async function listEnvironments(ws: Workspace): Promise<CachedEnvironment[]> {
  const root = join(ws.dataDir, ENVIRONMENTS_DIR);
  const found: CachedEnvironment[] = [];
  const count = uses(ws).prepare(
    'SELECT COUNT(*) AS uses, MAX(used_at) AS last FROM environment_uses WHERE key = ?',
  );
  for (const entry of (await readdir(root).catch(() => [] as string[])).sort()) {
    if (!/^[0-9a-f]{32}$/.test(entry)) continue;
    const hit = await cached(root, entry);
    if (!hit) continue;
    const { uses: used, last } = count.get(entry) as { uses: number; last: string | null };
    found.push({
      key: entry,
      name: hit.record.name,
      version: hit.record.version,
      path: hit.folder,
      lock: hit.record.lock,
      builtAt: hit.record.builtAt,
      uses: used,
      lastUsedAt: last,
    });
  }
  return found;
}

export interface PruneOptions {
  /** Runs whose environments stay (gc's kept runs); default: every run. */
  keptRuns?: ReadonlySet<string>;
  /** Remove environments kept runs used too (never one a running run uses). Default false. */
  all?: boolean;
  /** Keep environments built or used after this time (ms since the epoch). Default: keep none for age. */
  usedSince?: number;
  dryRun?: boolean;
}

export interface PrunedEnvironment {
  path: string;
  bytes: number;
  reason:
    | 'environment no kept run used'
    | 'environment removed on request'
    | 'unfinished or replaced environment build';
}

/**
 * Remove built environments: those no kept run used (all of them with `all`, except those a running run
 * uses), and the folders of builds that were killed or replaced. A build in progress is never touched; an
 * entry is unlinked before its folder is removed, so a step never finds half an environment.
 */
export async function pruneEnvironments(
  ws: Workspace,
  options: PruneOptions = {},
): Promise<PrunedEnvironment[]> {
  const root = join(ws.dataDir, ENVIRONMENTS_DIR);
  const entries = await readdir(root).catch(() => [] as string[]);
  if (entries.length === 0) return [];
  const store = uses(ws);
  const rows = store
    .prepare(
      `SELECT u.key AS key, u.used_at AS used_at, r.id AS run_id, r.status AS status
       FROM environment_uses u JOIN step_runs s ON s.id = u.step_run_id JOIN pipeline_runs r ON r.id = s.run_id`,
    )
    .all() as Array<{ key: string; used_at: string; run_id: string; status: string }>;
  const active = new Set<string>();
  const kept = new Set<string>();
  const lastUsed = new Map<string, number>();
  for (const row of rows) {
    if (row.status === 'Running' || row.status === 'NotStarted') active.add(row.key);
    if (!options.keptRuns || options.keptRuns.has(row.run_id)) kept.add(row.key);
    lastUsed.set(row.key, Math.max(lastUsed.get(row.key) ?? 0, Date.parse(row.used_at)));
  }
  const removed: PrunedEnvironment[] = [];
  const remove = async (path: string, reason: PrunedEnvironment['reason']): Promise<void> => {
    removed.push({ path, bytes: await diskUsage(path), reason });
    if (!options.dryRun) await rm(path, { recursive: true, force: true });
  };
  const current = new Set<string>();
  for (const key of entries.filter((entry) => /^[0-9a-f]{32}$/.test(entry))) {
    const hit = await cached(root, key);
    const target = await readlink(join(root, key)).catch(() => undefined);
    if (!hit) {
      if (!options.dryRun) await rm(join(root, key), { force: true });
      continue;
    }
    const recent =
      Math.max(Date.parse(hit.record.builtAt), lastUsed.get(key) ?? 0) >= (options.usedSince ?? Infinity);
    if (active.has(key) || (!options.all && (recent || kept.has(key)))) {
      if (target) current.add(target);
      continue;
    }
    // unlinked first: from now on a step builds it anew rather than finding it half removed
    if (!options.dryRun) await rm(join(root, key), { force: true });
    await remove(hit.folder, options.all ? 'environment removed on request' : 'environment no kept run used');
  }
  for (const entry of entries) {
    const match = /^([0-9a-f]{32})\.[0-9a-f]{12}$/.exec(entry);
    if (!match || current.has(entry) || removed.some((item) => item.path === join(root, entry))) continue;
    const key = match[1]!;
    // a build in progress holds its lease
    const holder = ws.store.claimLease(`environment:${key}`, `environment-prune.${process.pid}`);
    if (!holder.acquired) continue;
    try {
      if ((await readlink(join(root, key)).catch(() => undefined)) === entry) continue;
      await remove(join(root, entry), 'unfinished or replaced environment build');
    } finally {
      ws.store.releaseLease(`environment:${key}`, `environment-prune.${process.pid}`);
    }
  }
  return removed;
}
