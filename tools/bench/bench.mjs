#!/usr/bin/env node
// Sluice benchmark: measures the runtime against baselines timed in the same process run and prints a table.
// It never asserts wall-clock times: a missed goal is marked ✗ and the exit code stays 0 (non-zero only when
// something crashes). See tools/bench/README.md.
//
//   node tools/bench/bench.mjs [--only a,b,c,d,e,f,g,h,i,j,k] [--quick] [--python <interpreter>] [--profile <dir>]

import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { Environment, Pipeline, RunConfiguration, hashTree } from '@sluice/core';
import { ComputeTarget, Experiment, Workspace, localCompute } from '@sluice/runtime';
import { PythonScriptStep } from '@sluice/step-python';
import { coldCheckout } from '../cold-checkout.mjs';
import { measureServeLoad } from './serve-load.mjs';
import { noopPipeline } from './noop-pipeline.mjs';
import { measureSlurm } from './slurm.mjs';
import { measureSnakemake } from './snakemake.mjs';

// ---------------------------------------------------------------------------------------------------------
// options

const MEASUREMENTS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k'];

function parseArgs(argv) {
  const options = {
    only: new Set(MEASUREMENTS),
    quick: false,
    profile: undefined,
    python: 'python3',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') options.quick = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg.includes('=') ? arg.slice('--only='.length) : argv[++i];
      const picked = String(value ?? '')
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean);
      const unknown = picked.filter((s) => !MEASUREMENTS.includes(s));
      if (picked.length === 0 || unknown.length) {
        usage(`--only takes a list of ${MEASUREMENTS.join(', ')}; got ${value}`);
      }
      options.only = new Set(picked);
    } else if (arg === '--profile' || arg.startsWith('--profile=')) {
      const value = arg.includes('=') ? arg.slice('--profile='.length) : argv[++i];
      if (!value) usage('--profile needs a directory');
      options.profile = resolve(value);
    } else if (arg === '--python' || arg.startsWith('--python=')) {
      const value = arg.includes('=') ? arg.slice('--python='.length) : argv[++i];
      if (!value) usage('--python needs an interpreter');
      options.python = value;
    } else if (arg === '--help' || arg === '-h') usage();
    else usage(`unknown argument ${arg}`);
  }
  return options;
}

function usage(problem) {
  if (problem) console.error(`bench: ${problem}`);
  console.error(
    'usage: node tools/bench/bench.mjs [--only a,b,c,d,e,f,g,h,i,j,k] [--quick] [--python <interpreter>] [--profile <dir>]',
  );
  process.exit(problem ? 2 : 0);
}

const options = parseArgs(process.argv.slice(2));

const SIZES = options.quick
  ? {
      a: { steps: 100, chains: 4 },
      b: { steps: 20, reps: 1 },
      c: { files: 500, bytes: 20 * 2 ** 20, reps: 1 },
      d: {
        files: 200,
        bytes: 20 * 2 ** 20,
        reps: 1,
        concurrency: 8,
        warm: { files: 20, bytes: 2 * 2 ** 20 },
      },
    }
  : {
      a: { steps: 1000, chains: 4 },
      b: { steps: 200, reps: 3 },
      c: { files: 5000, bytes: 200 * 2 ** 20, reps: 3 },
      d: {
        files: 2000,
        bytes: 200 * 2 ** 20,
        reps: 3,
        concurrency: 8,
        warm: { files: 50, bytes: 5 * 2 ** 20 },
      },
    };

// ---------------------------------------------------------------------------------------------------------
// helpers

const require = createRequire(import.meta.url);
const root = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
/** The Azurite instance of (d) while it runs, so a signal can stop it before the temp data is removed. */
let activeAzurite;
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  rmSync(root, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    // stop (d)'s Azurite first, so nothing writes into the temp folder while it is removed
    Promise.resolve(activeAzurite?.stop())
      .catch(() => undefined)
      .finally(() => {
        cleanup();
        process.exit(130);
      });
  });
}

const log = (text = '') => process.stderr.write(`${text}\n`);
const progress = (text) => process.stderr.write(text);

const median = (values) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const fmtMs = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 3 : 1)} ms`);
const fmtRatio = (ratio) => `${ratio.toFixed(ratio < 10 ? 2 : 1)}×`;
const MiB = 2 ** 20;

/** Deterministic PRNG (mulberry32), so the generated shapes are the same in every run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Run a shell command line, resolving with its wall time (ms); rejects on a non-zero exit. */
function timeShell(command, cwd) {
  return new Promise((resolvePromise, reject) => {
    const start = performance.now();
    const child = spawn('sh', ['-c', command], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = performance.now() - start;
      if (code === 0) resolvePromise(ms);
      else reject(new Error(`\`${command}\` exited with ${code}: ${stderr.trim()}`));
    });
  });
}

/** Optional CPU profiles of the timed sections only (--profile <dir>), written as .cpuprofile files. */
let session;
async function profiled(name, fn) {
  if (!options.profile) return fn();
  if (!session) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
  }
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(options.profile, { recursive: true });
    const file = join(options.profile, `${name}.cpuprofile`);
    await writeFile(file, JSON.stringify(profile));
    log(`  profile written: ${file}; where the time went (self time):`);
    for (const [where, ms] of topFunctions(profile, 5)) log(`    ${fmtMs(ms).padStart(10)}  ${where}`);
  }
}

/** The `count` functions of a V8 CPU profile with the most self time, as [where, ms]. */
function topFunctions(profile, count) {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  profile.samples.forEach((id, index) => {
    const { functionName, url, lineNumber } = byNode.get(id).callFrame;
    const file = url ? relative(process.cwd(), url.replace(/^file:\/\//, '')) : '';
    const where = `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`;
    self.set(where, (self.get(where) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000);
  });
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, count);
}

const results = [];

// ---------------------------------------------------------------------------------------------------------
// (a) no-op re-run of a generated pipeline, everything reused

async function benchA() {
  const { steps, chains } = SIZES.a;
  log(`\n(a) no-op re-run of a ${steps}-step pipeline (${chains} chains from one root), everything reused`);
  const dir = join(root, 'a-ws');
  const ws = Workspace.create(dir, { name: 'bench-a' });
  try {
    await ComputeTarget.create(ws, 'bench', localCompute({ maxConcurrency: 2 }));
    const experiment = new Experiment(ws, 'bench-a');

    const pipeline = noopPipeline(steps, chains);

    progress(`  cold run (not timed as the result; one dot = ${steps >= 200 ? 20 : 5} steps) `);
    const coldStart = performance.now();
    const cold = await experiment.submit(pipeline);
    let finished = 0;
    const every = steps >= 200 ? 20 : 5;
    cold.on((event) => {
      if (event.type === 'step-status' && (event.status === 'Finished' || event.status === 'Failed')) {
        finished += 1;
        if (finished % every === 0) progress('.');
      }
    });
    const coldStatus = await cold.waitForCompletion({ raiseOnError: false });
    const coldMs = performance.now() - coldStart;
    log(` ${coldStatus} in ${fmtMs(coldMs)}`);
    if (coldStatus !== 'Finished') throw new Error(`the cold run ended ${coldStatus}`);

    // make sure the output files are well outside the stat cache's racy window (100 ms) before the re-run
    await sleep(200);

    // the same pipeline definition again (a new object graph, as a fresh process would build it)
    const again = noopPipeline(steps, chains);
    const ms = await profiled('a-noop-rerun', async () => {
      const start = performance.now();
      const run = await experiment.submit(again);
      await run.waitForCompletion({ raiseOnError: false });
      return performance.now() - start;
    });
    const records = ws.store.getStepRuns(ws.store.listRuns({ experiment: 'bench-a', limit: 1 })[0].id);
    const reused = records.filter((record) => record.status === 'Reused').length;
    log(`  re-run: ${fmtMs(ms)} (${(ms / steps).toFixed(3)} ms/step), ${reused}/${steps} steps reused`);

    // baseline: the minimal store work per step with better-sqlite3 directly: one indexed SELECT + one
    // INSERT transaction per step, on a table shaped like step_runs, in WAL mode as the run store uses
    const baseline = sqliteBaseline(join(root, 'a-baseline.db'), steps);
    log(
      `  baseline (better-sqlite3, SELECT + INSERT txn per step): ${(baseline / steps).toFixed(4)} ms/step`,
    );

    const perStep = ms / steps;
    results.push({
      id: 'a',
      what: `No-op re-run, ${steps} steps all reused (ms/step)`,
      sluice: `${perStep.toFixed(3)} ms/step (${fmtMs(ms)})`,
      baseline: `${(baseline / steps).toFixed(4)} ms/step (sqlite)`,
      ratio: fmtRatio(ms / baseline),
      goal: '≤ 1 ms/step',
      ok: perStep <= 1 && reused === steps,
      note: reused === steps ? undefined : `only ${reused}/${steps} steps were reused`,
    });
  } finally {
    await ws.close();
  }
}

function sqliteBaseline(file, steps) {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`
      CREATE TABLE step_runs (
        id TEXT PRIMARY KEY, run_id TEXT NOT NULL, step_name TEXT NOT NULL, status TEXT NOT NULL,
        fingerprint TEXT, reused_from TEXT, created_at TEXT NOT NULL, ended_at TEXT
      );
      CREATE INDEX step_runs_fingerprint ON step_runs(fingerprint, status);
    `);
    const insert = db.prepare(
      `INSERT INTO step_runs (id, run_id, step_name, status, fingerprint, reused_from, created_at, ended_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const fingerprints = Array.from({ length: steps }, () => randomBytes(32).toString('hex'));
    const stamp = new Date().toISOString();
    db.transaction(() => {
      fingerprints.forEach((fp, i) =>
        insert.run(`r1.s${i}`, 'r1', `s${i}`, 'Finished', fp, null, stamp, stamp),
      );
    })();
    const select = db.prepare(
      `SELECT * FROM step_runs WHERE fingerprint = ? AND status = 'Finished' AND run_id != ?
       ORDER BY ended_at DESC LIMIT 5`,
    );
    const times = [];
    for (let rep = 0; rep < 5; rep++) {
      const run = `r${rep + 2}`;
      const start = performance.now();
      for (let i = 0; i < steps; i++) {
        const candidate = select.get(fingerprints[i], run);
        db.transaction(() => {
          insert.run(`${run}.s${i}`, run, `s${i}`, 'Reused', fingerprints[i], candidate.id, stamp, stamp);
        }).immediate();
      }
      times.push(performance.now() - start);
    }
    return median(times);
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// (b) cold run of trivial Python steps vs xargs -P2

async function benchB() {
  const { steps, reps } = SIZES.b;
  const python = options.python;
  log(
    `\n(b) cold run of ${steps} trivial Python steps, maxConcurrency 2, vs seq | xargs -P2 (${reps} rep(s))`,
  );
  const source = join(root, 'b-src');
  mkdirSync(source, { recursive: true });
  writeFileSync(join(source, 'script.py'), 'import sys\n\nsys.exit(0)\n');
  const quoted = `'${python.replaceAll("'", `'\\''`)}'`;
  const xargsCommand = `seq ${steps} | xargs -P2 -n1 ${quoted} script.py`;
  // the default interpreter is the step's default ('python3' from PATH); another one goes in an Environment
  const runConfig =
    python === 'python3'
      ? undefined
      : new RunConfiguration({
          environment: new Environment({ name: 'bench-python', python: { interpreter: python } }),
        });

  // warm the interpreter's files into the page cache before timing
  await timeShell(`seq 4 | xargs -P2 -n1 ${quoted} script.py`, source);

  const sluiceTimes = [];
  const xargsTimes = [];
  const ratios = [];
  const cpuPerStep = [];
  for (let rep = 0; rep < reps; rep++) {
    const xargsMs = await timeShell(xargsCommand, source);
    xargsTimes.push(xargsMs);

    // a fresh workspace each time: nothing can be reused
    const ws = Workspace.create(join(root, `b-ws-${rep}`), { name: `bench-b-${rep}` });
    try {
      await ComputeTarget.create(ws, 'bench', localCompute({ maxConcurrency: 2 }));
      const list = Array.from(
        { length: steps },
        (_, i) =>
          new PythonScriptStep({
            name: `py${String(i + 1).padStart(4, '0')}`,
            scriptName: 'script.py',
            sourceDirectory: source,
            arguments: [String(i + 1)],
            computeTarget: 'bench',
            ...(runConfig ? { runConfig } : {}),
          }),
      );
      const pipeline = new Pipeline({ name: 'bench-python', steps: list });
      const experiment = new Experiment(ws, 'bench-b');
      const { ms, cpu, status } = await profiled(`b-python-cold-${rep}`, async () => {
        const cpuStart = process.cpuUsage();
        const start = performance.now();
        const run = await experiment.submit(pipeline);
        const result = await run.waitForCompletion({ raiseOnError: false });
        const used = process.cpuUsage(cpuStart);
        return { ms: performance.now() - start, cpu: (used.user + used.system) / 1000, status: result };
      });
      if (status !== 'Finished') throw new Error(`the Python run ended ${status}`);
      const records = ws.store.getStepRuns(ws.store.listRuns({ experiment: 'bench-b', limit: 1 })[0].id);
      const ran = records.filter((record) => record.status === 'Finished').length;
      if (ran !== steps) throw new Error(`only ${ran}/${steps} Python steps ran`);
      sluiceTimes.push(ms);
      ratios.push(ms / xargsMs);
      cpuPerStep.push(cpu / steps);
      log(
        `  rep ${rep + 1}: xargs ${fmtMs(xargsMs)}, sluice ${fmtMs(ms)} (${fmtRatio(ms / xargsMs)}; ` +
          `Sluice's own process used ${(cpu / steps).toFixed(1)} ms CPU per step)`,
      );
    } finally {
      await ws.close();
    }
  }
  const sluice = median(sluiceTimes);
  const xargs = median(xargsTimes);
  const ratio = median(ratios);
  results.push({
    id: 'b',
    what: `Cold run, ${steps} trivial Python steps (wall time)`,
    sluice: fmtMs(sluice),
    baseline: `${fmtMs(xargs)} (xargs -P2)`,
    ratio: fmtRatio(ratio),
    goal: '≤ 1.10×',
    ok: ratio <= 1.1,
    note:
      `medians of ${reps}; the ratio is the median of the ${reps} paired (back-to-back) ratios ` +
      `[${ratios.map((r) => r.toFixed(2)).join(', ')}]; per step: sluice ${(sluice / steps).toFixed(1)} ms, ` +
      `xargs ${(xargs / steps).toFixed(1)} ms, Sluice's own CPU ${median(cpuPerStep).toFixed(1)} ms; ` +
      `interpreter: ${python}`,
  });
}

// ---------------------------------------------------------------------------------------------------------
// (c) fingerprinting a large source tree

function generateTree(dir, files, totalBytes) {
  const random = prng(0x5eed);
  // most files small (256 B – 32 KiB), 5% large with an exponential spread that takes the rest of the bytes
  const large = Math.max(1, Math.round(files * 0.05));
  const sizes = [];
  let used = 0;
  for (let i = 0; i < files - large; i++) {
    const size = 256 + Math.floor(random() * (32 * 1024 - 256));
    sizes.push(size);
    used += size;
  }
  const weights = Array.from({ length: large }, () => -Math.log(1 - random() * 0.999));
  const weightSum = weights.reduce((s, w) => s + w, 0);
  const rest = Math.max(large, totalBytes - used);
  let assigned = 0;
  weights.forEach((w, i) => {
    const size = i === large - 1 ? rest - assigned : Math.max(1, Math.floor((rest * w) / weightSum));
    sizes.push(size);
    assigned += size;
  });
  // shuffle the large files among the small ones
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [sizes[i], sizes[j]] = [sizes[j], sizes[i]];
  }
  const past = new Date(Date.now() - 10_000);
  const made = new Set();
  let bytes = 0;
  sizes.forEach((size, i) => {
    const depth = Math.floor(random() * 4); // 0–3 folders deep, 8 folders per level
    const parts = [];
    for (let d = 0; d < depth; d++) parts.push(`dir${d}_${Math.floor(random() * 8)}`);
    const folder = join(dir, ...parts);
    if (!made.has(folder)) {
      mkdirSync(folder, { recursive: true });
      made.add(folder);
    }
    const file = join(folder, `file${String(i).padStart(5, '0')}.bin`);
    writeFileSync(file, randomBytes(size));
    // mtimes 10 s in the past: the stat cache trusts only entries of files older than 100 ms when hashed
    utimesSync(file, past, past);
    bytes += size;
  });
  return bytes;
}

function sha256sumManifest(dir) {
  const result = spawnSync('sh', ['-c', 'find . -type f -print0 | xargs -0 sha256sum'], {
    cwd: dir,
    maxBuffer: 256 * MiB,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`sha256sum failed: ${result.stderr}`);
  const files = {};
  for (const line of result.stdout.split('\n')) {
    if (!line) continue;
    const hash = line.slice(0, 64);
    files[line.slice(66).replace(/^\.\//, '')] = hash;
  }
  return files;
}

async function benchC() {
  const { files, bytes: wanted, reps } = SIZES.c;
  log(`\n(c) fingerprinting a ${Math.round(wanted / MiB)} MiB, ${files}-file tree vs find | xargs sha256sum`);
  const tree = join(root, 'c-tree');
  const genStart = performance.now();
  const bytes = generateTree(tree, files, wanted);
  log(
    `  generated ${files} files, ${(bytes / MiB).toFixed(1)} MiB in ${fmtMs(performance.now() - genStart)}`,
  );
  const shaCommand = `find '${tree}' -type f -print0 | xargs -0 sha256sum > /dev/null`;

  // warm-up: each side once (page cache, JIT); also checks that both sides agree on every file's hash
  const reference = sha256sumManifest(tree);
  const warmWs = Workspace.create(join(root, 'c-ws-warm'), { name: 'bench-c-warm' });
  try {
    const warm = await hashTree(tree, { useIgnoreFiles: true, statCache: warmWs.statCache });
    const mismatched = Object.keys(reference).filter((rel) => warm.files[rel] !== reference[rel]);
    if (mismatched.length || Object.keys(warm.files).length !== Object.keys(reference).length) {
      log(`  WARNING: hashTree and sha256sum disagree (${mismatched.length} files differ)`);
    }
  } finally {
    await warmWs.close();
  }

  // openssl uses the CPU's SHA instructions where it has them: the fastest sha256 a shell has
  const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
  const opensslCommand = `find '${tree}' -type f -print0 | xargs -0 openssl dgst -sha256 > /dev/null`;
  const shaTimes = [];
  const opensslTimes = [];
  const coldTimes = [];
  const warmTimes = [];
  let rehashed = 0;
  for (let rep = 0; rep < reps; rep++) {
    const shaMs = await timeShell(shaCommand, root);
    shaTimes.push(shaMs);
    if (hasOpenssl) opensslTimes.push(await timeShell(opensslCommand, root));
    // a fresh workspace: its stat cache is empty, so every file is read and hashed
    const ws = Workspace.create(join(root, `c-ws-${rep}`), { name: `bench-c-${rep}` });
    try {
      const statCache = ws.statCache;
      const cold = await profiled(`c-hash-cold-${rep}`, async () => {
        const start = performance.now();
        const result = await hashTree(tree, { useIgnoreFiles: true, statCache });
        return { ms: performance.now() - start, result };
      });
      coldTimes.push(cold.ms);
      const warm = await profiled(`c-hash-statcache-${rep}`, async () => {
        const start = performance.now();
        const result = await hashTree(tree, { useIgnoreFiles: true, statCache });
        return { ms: performance.now() - start, result };
      });
      warmTimes.push(warm.ms);
      rehashed = Math.max(rehashed, warm.result.hashedFiles);
      if (warm.result.digest !== cold.result.digest)
        throw new Error('the re-fingerprint gave another digest');
      log(
        `  rep ${rep + 1}: sha256sum ${fmtMs(shaMs)}, hashTree ${fmtMs(cold.ms)} (${cold.result.hashedFiles} read), ` +
          `with stat cache ${fmtMs(warm.ms)} (${warm.result.hashedFiles} read)`,
      );
    } finally {
      await ws.close();
    }
  }
  const sha = median(shaTimes);
  const cold = median(coldTimes);
  const warm = median(warmTimes);
  const mbps = (ms) => bytes / MiB / (ms / 1000);
  results.push({
    id: 'c1',
    what: `hashTree throughput, ${Math.round(bytes / MiB)} MiB / ${files} files (warm page cache)`,
    sluice: `${mbps(cold).toFixed(0)} MiB/s (${fmtMs(cold)})`,
    baseline: `${mbps(sha).toFixed(0)} MiB/s (${fmtMs(sha)}, sha256sum)`,
    ratio: fmtRatio(sha / cold),
    goal: '≥ 0.90×',
    ok: sha / cold >= 0.9,
  });
  if (hasOpenssl) {
    const openssl = median(opensslTimes);
    results.push({
      id: 'c3',
      what: `hashTree throughput against openssl dgst -sha256 (same tree)`,
      sluice: `${mbps(cold).toFixed(0)} MiB/s (${fmtMs(cold)})`,
      baseline: `${mbps(openssl).toFixed(0)} MiB/s (${fmtMs(openssl)}, openssl)`,
      ratio: fmtRatio(openssl / cold),
      goal: '≥ 0.90×',
      ok: openssl / cold >= 0.9,
    });
  } else log('  (c3) skipped: no openssl on PATH');
  results.push({
    id: 'c2',
    what: 'Re-fingerprint of the unchanged tree, warm stat cache',
    sluice: fmtMs(warm),
    baseline: `${fmtMs(cold)} (cold hashTree)`,
    ratio: `${((warm / cold) * 100).toFixed(1)}%`,
    goal: '≤ 5%',
    ok: warm / cold <= 0.05 && rehashed === 0,
    note: rehashed ? `${rehashed} files were read again despite the stat cache` : undefined,
  });
}

// ---------------------------------------------------------------------------------------------------------
// (d) upload and download of a folder through the Azure blob datastore, against Azurite

/** A tiny worker pool: `work` for every item, at most `width` at once (the raw side's parallelism). */
async function inPool(items, width, work) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/** Every file below `dir`: relative path ('/'-separated) → size. */
async function fileSizes(dir) {
  const sizes = new Map();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    sizes.set(relative(dir, full).split(sep).join('/'), (await stat(full)).size);
  }
  return sizes;
}

/** Every file below `dir`: relative path → sha256 (for the warm-up's content check). */
async function fileHashes(dir) {
  const hashes = new Map();
  for (const rel of (await fileSizes(dir)).keys()) {
    hashes.set(
      rel,
      createHash('sha256')
        .update(await readFile(join(dir, rel)))
        .digest('hex'),
    );
  }
  return hashes;
}

/** Same files with the same values? Returns a description of the first differences, or undefined. */
function compareMaps(expected, actual) {
  const problems = [];
  for (const [rel, value] of expected) {
    if (!actual.has(rel)) problems.push(`${rel} missing`);
    else if (actual.get(rel) !== value) problems.push(`${rel} differs`);
  }
  for (const rel of actual.keys()) if (!expected.has(rel)) problems.push(`${rel} unexpected`);
  return problems.length ? `${problems.length} problem(s): ${problems.slice(0, 3).join(', ')}` : undefined;
}

/**
 * CPU time (ms) used so far by the Azurite child process of this benchmark, read from /proc (Linux); undefined
 * where that is not possible. `startAzurite` does not give the pid: it is the child whose command line
 * names azurite.
 */
function azuriteCpuReader() {
  const listed = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  const line = (listed.stdout ?? '').split('\n').find((text) => /azurite/.test(text));
  const pid = line?.trim().split(/\s+/)[0];
  if (!pid) return () => undefined;
  return () => {
    try {
      // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux)
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      return undefined;
    }
  };
}

/** CPU time (ms) all processes of the machine have used so far (/proc/stat, Linux); undefined elsewhere. */
function machineBusy() {
  try {
    const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return (user + nice + system + irq + softirq + steal) * 10;
  } catch {
    return undefined;
  }
}

/** Flush dirty pages (Azurite's blob files, downloads) so write-back does not land in a timed section. */
function flushDisks() {
  spawnSync('sync', { stdio: 'ignore' });
}

async function benchD() {
  const { files, bytes: wanted, reps, concurrency, warm } = SIZES.d;
  log(
    `\n(d) upload + download of a ${Math.round(wanted / MiB)} MiB, ${files}-file folder through ` +
      `@sluice/datastore-azure vs raw @azure/storage-blob, ${concurrency} files at a time, Azurite (${reps} rep(s))`,
  );
  const { startAzurite } = await import('@sluice/testing/azurite');
  const { BlobServiceClient } = await import('@azure/storage-blob');
  const { createFromOptions } = await import('@sluice/datastore-azure');

  const tree = join(root, 'd-tree');
  const warmTree = join(root, 'd-tree-warm');
  const genStart = performance.now();
  const bytes = generateTree(tree, files, wanted);
  const warmBytes = generateTree(warmTree, warm.files, warm.bytes);
  const treeSizes = await fileSizes(tree);
  log(
    `  generated ${files} files, ${(bytes / MiB).toFixed(1)} MiB (+ ${warm.files} files, ` +
      `${(warmBytes / MiB).toFixed(1)} MiB for the warm-up) in ${fmtMs(performance.now() - genStart)}`,
  );

  const location = join(root, 'd-azurite');
  const startStart = performance.now();
  const azurite = await startAzurite({ location });
  activeAzurite = azurite;
  const azuriteCpu = azuriteCpuReader();
  log(
    `  Azurite at ${azurite.blobEndpoint} (data in ${location}), up in ${fmtMs(performance.now() - startStart)}`,
  );
  try {
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    /** A new, empty container; created outside the timed sections, for both sides alike. */
    const freshContainer = async (name) => {
      await service.getContainerClient(name).create();
      return name;
    };
    // Azurite looks blobs up by scanning every blob of the account (its LokiJS queries start from the
    // `accountName` index), so each request gets slower as blobs pile up: each side's container is deleted
    // once its downloads are checked, so every timed section starts from the same (empty) account
    const dropContainer = (name) => service.getContainerClient(name).delete();

    // Sluice: the datastore as a workspace builds it from saved options (the secret looked up by name)
    const sluiceStore = (containerName) =>
      createFromOptions(
        `bench-${containerName}`,
        { containerName, connectionString: { secret: 'bench-d' }, concurrency },
        { secret: (name) => (name === 'bench-d' ? azurite.connectionString : undefined) },
      );
    // raw: the plain SDK way: walk the folder, uploadFile each file / list the prefix, downloadToFile each
    // blob, the same number of files at a time through a simple worker pool; a client of its own per
    // container, as each datastore has
    const rawContainer = (containerName) =>
      BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(containerName);
    const sides = {
      sluice: {
        open: sluiceStore,
        upload: (store, local) => store.upload(local, 'data', { overwrite: false, concurrency }),
        download: (store, local) => store.download('data', local, { concurrency }),
      },
      raw: {
        open: rawContainer,
        async upload(container, local) {
          const entries = (await readdir(local, { recursive: true, withFileTypes: true })).filter((entry) =>
            entry.isFile(),
          );
          await inPool(entries, concurrency, async (entry) => {
            const full = join(entry.parentPath, entry.name);
            const name = `data/${relative(local, full).split(sep).join('/')}`;
            await container.getBlockBlobClient(name).uploadFile(full);
          });
        },
        async download(container, local) {
          const names = [];
          for await (const blob of container.listBlobsFlat({ prefix: 'data/' })) names.push(blob.name);
          await inPool(names, concurrency, async (name) => {
            const target = join(local, ...name.slice('data/'.length).split('/'));
            await mkdir(dirname(target), { recursive: true });
            await container.getBlobClient(name).downloadToFile(target);
          });
        },
      },
    };

    // warm-up: each side once on the small folder (JIT, connections, Azurite's first writes); the
    // downloads are checked byte for byte against the source
    const warmHashes = await fileHashes(warmTree);
    for (const side of ['raw', 'sluice']) {
      const name = await freshContainer(`bench-d-${side}-warm`);
      const local = join(root, `d-down-${side}-warm`);
      const start = performance.now();
      const client = sides[side].open(name);
      await sides[side].upload(client, warmTree);
      await sides[side].download(client, local);
      const ms = performance.now() - start;
      const problem = compareMaps(warmHashes, await fileHashes(local));
      if (problem) throw new Error(`the ${side} warm-up download does not match its source: ${problem}`);
      rmSync(local, { recursive: true, force: true });
      await dropContainer(name);
      log(`  warm-up ${side}: upload + download ${fmtMs(ms)}, content checked`);
    }

    const times = { upRaw: [], upSluice: [], downRaw: [], downSluice: [] };
    const cpu = { upRaw: [], upSluice: [], downRaw: [], downSluice: [] };
    const serverCpu = { upRaw: [], upSluice: [], downRaw: [], downSluice: [] };
    const upRatios = [];
    const downRatios = [];
    /** Time one side's transfer; also the CPU time of the benchmark process (the client) and of Azurite. */
    const timed = async (key, profileName, fn) => {
      flushDisks();
      const result = await profiled(profileName, async () => {
        const busyStart = machineBusy();
        const serverStart = azuriteCpu();
        const cpuStart = process.cpuUsage();
        const start = performance.now();
        await fn();
        const ms = performance.now() - start;
        const used = process.cpuUsage(cpuStart);
        const serverEnd = azuriteCpu();
        const busyEnd = machineBusy();
        const own = (used.user + used.system) / 1000;
        const server =
          serverStart === undefined || serverEnd === undefined ? undefined : serverEnd - serverStart;
        // CPU that neither the benchmark nor Azurite used: other processes, the kernel's own threads
        const foreign =
          server === undefined || busyStart === undefined || busyEnd === undefined
            ? undefined
            : Math.max(0, busyEnd - busyStart - own - server);
        return { ms, cpu: own, server, foreign };
      });
      return { key, ...result };
    };
    const mbps = (ms) => bytes / MiB / (ms / 1000);
    const Key = { raw: 'Raw', sluice: 'Sluice' };
    // A pair is measured again (up to MAX_ATTEMPTS times) when other processes used more than this share
    // of a core during one of its timed sections: on a shared 2-core machine a test run elsewhere shifts
    // one side's time by 50% or more, and pairing alone cannot cancel a burst that hits only one side.
    const FOREIGN_LIMIT = 0.25;
    const MAX_ATTEMPTS = 3;
    let disturbed = 0;
    let acceptedDisturbed = 0;
    for (let rep = 0; rep < reps; rep++) {
      // one side's upload + download, then the other's, back to back; which goes first alternates, so
      // drift (machine load, the kernel's write-back of what the other side wrote) hits both alike
      const order = rep % 2 === 0 ? ['raw', 'sluice'] : ['sluice', 'raw'];
      for (let attempt = 1; ; attempt++) {
        const up = {};
        const down = {};
        for (const side of order) {
          // a container of its own per side, repetition and attempt: neither side sees the other's blobs
          const name = await freshContainer(`bench-d-${side}-${rep}-${attempt}`);
          const client = sides[side].open(name);
          const local = join(root, `d-down-${side}-${rep}`);
          up[side] = await timed(`up${Key[side]}`, `d-upload-${side}-${rep}`, () =>
            sides[side].upload(client, tree),
          );
          down[side] = await timed(`down${Key[side]}`, `d-download-${side}-${rep}`, () =>
            sides[side].download(client, local),
          );
          const problem = compareMaps(treeSizes, await fileSizes(local));
          if (problem)
            throw new Error(`the ${side} download of rep ${rep + 1} is not the source: ${problem}`);
          rmSync(local, { recursive: true, force: true });
          await dropContainer(name);
        }
        const sections = [up.raw, up.sluice, down.raw, down.sluice];
        const worst = Math.max(...sections.map((r) => (r.foreign === undefined ? 0 : r.foreign / r.ms)));
        const line =
          `upload raw ${mbps(up.raw.ms).toFixed(1)} MiB/s (${fmtMs(up.raw.ms)}), sluice ${mbps(up.sluice.ms).toFixed(1)} MiB/s ` +
          `(${fmtMs(up.sluice.ms)}) → ${fmtRatio(up.raw.ms / up.sluice.ms)}; ` +
          `download raw ${mbps(down.raw.ms).toFixed(1)} MiB/s (${fmtMs(down.raw.ms)}), sluice ${mbps(down.sluice.ms).toFixed(1)} MiB/s ` +
          `(${fmtMs(down.sluice.ms)}) → ${fmtRatio(down.raw.ms / down.sluice.ms)}; ` +
          `other processes ≤ ${(worst * 100).toFixed(0)}% of a core`;
        if (worst > FOREIGN_LIMIT && attempt < MAX_ATTEMPTS) {
          disturbed += 1;
          log(`  rep ${rep + 1} (${order[0]} first), disturbed, measured again: ${line}`);
          continue;
        }
        if (worst > FOREIGN_LIMIT) acceptedDisturbed += 1;
        for (const r of sections) {
          times[r.key].push(r.ms);
          cpu[r.key].push(r.cpu);
          if (r.server !== undefined) serverCpu[r.key].push(r.server);
        }
        upRatios.push(up.raw.ms / up.sluice.ms);
        downRatios.push(down.raw.ms / down.sluice.ms);
        log(`  rep ${rep + 1} (${order[0]} first): ${line}`);
        break;
      }
    }
    const disturbance =
      disturbed || acceptedDisturbed
        ? `; ${disturbed} disturbed pair(s) measured again` +
          (acceptedDisturbed ? `, ${acceptedDisturbed} kept after ${MAX_ATTEMPTS} attempts (noisy)` : '')
        : '';

    const row = (id, what, sluiceKey, rawKey, ratios) => {
      const sluiceMs = median(times[sluiceKey]);
      const rawMs = median(times[rawKey]);
      const ratio = median(ratios);
      results.push({
        id,
        what,
        sluice: `${mbps(sluiceMs).toFixed(1)} MiB/s (${fmtMs(sluiceMs)})`,
        baseline: `${mbps(rawMs).toFixed(1)} MiB/s (${fmtMs(rawMs)}, @azure/storage-blob)`,
        ratio: fmtRatio(ratio),
        goal: '≥ 0.90×',
        ok: ratio >= 0.9,
        note:
          `throughput sluice/raw, median of the ${reps} paired ratios [${ratios.map((r) => r.toFixed(2)).join(', ')}]; ` +
          `CPU time (medians) of the client: sluice ${fmtMs(median(cpu[sluiceKey]))}, raw ${fmtMs(median(cpu[rawKey]))}` +
          (serverCpu[sluiceKey].length && serverCpu[rawKey].length
            ? `; of Azurite (same cores): sluice ${fmtMs(median(serverCpu[sluiceKey]))}, raw ${fmtMs(median(serverCpu[rawKey]))}`
            : '') +
          disturbance,
      });
    };
    const shape = `${Math.round(bytes / MiB)} MiB / ${files} files, ${concurrency} at a time`;
    row('d1', `Azure upload throughput, ${shape} (Azurite)`, 'upSluice', 'upRaw', upRatios);
    row('d2', `Azure download throughput, ${shape} (Azurite)`, 'downSluice', 'downRaw', downRatios);
  } finally {
    activeAzurite = undefined;
    await azurite.stop();
    rmSync(location, { recursive: true, force: true });
    rmSync(tree, { recursive: true, force: true });
    rmSync(warmTree, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
// (f) `npm run demo` from a fresh clone: its wall time against the time its pipeline runs take themselves

async function benchF() {
  log('(f) npm run demo in a fresh copy of this checkout (nothing built, no nx cache)');
  const checkout = coldCheckout(resolve(import.meta.dirname, '..', '..'), join(root, 'f-checkout'));
  // as typed in a shell: none of the npm settings the benchmark itself runs under; no nx daemon left behind
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_|^INIT_CWD$/i.test(name)),
  );
  Object.assign(env, { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NO_COLOR: '1' });
  const loadBefore = loadavg()[0];
  const start = performance.now();
  const output = await new Promise((resolvePromise, reject) => {
    const child = spawn('npm', ['run', 'demo'], { cwd: checkout, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (chunk) => (text += chunk));
    child.stderr.on('data', (chunk) => (text += chunk));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolvePromise(text)
        : reject(new Error(`npm run demo exited with ${code}:\n${text.slice(-4000)}`)),
    );
  });
  const wall = performance.now() - start;
  const loadAfter = loadavg()[0];
  const built = /done in ([\d.]+) s/.exec(output);
  // the runs' own time, as the run store recorded it (what `sluice run` prints for each)
  const ws = Workspace.open(join(checkout, 'examples', 'iris', 'workspace'));
  let runs;
  try {
    runs = ws.store.listRuns({ limit: 10 });
  } finally {
    await ws.close();
  }
  if (runs.length !== 3 || runs.some((run) => run.status !== 'Finished')) {
    throw new Error(
      `the demo left ${runs.length} runs (${runs.map((run) => run.status).join(', ')}), not 3 finished ones`,
    );
  }
  const times = runs.reverse().map((run) => Date.parse(run.endedAt) - Date.parse(run.startedAt));
  const own = times.reduce((sum, ms) => sum + ms, 0);
  log(`  ${fmtMs(wall)} in all; the three runs took ${times.map(fmtMs).join(', ')}`);
  results.push({
    id: 'f',
    what: '`npm run demo` from a fresh clone, nothing built (wall time)',
    sluice: fmtMs(wall),
    baseline: `${fmtMs(own)} (its 3 runs' own time)`,
    ratio: fmtRatio(wall / own),
    goal: '< 60 s',
    ok: wall < 60_000,
    note:
      `the JavaScript-only build of the packages it runs took ${built ? `${built[1]} s` : '(not found in its output)'}; ` +
      `the runs ${times.map(fmtMs).join(', ')} (every step, all reused, two re-run); ` +
      `1-minute load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after`,
  });
}

// ---------------------------------------------------------------------------------------------------------
// (g) the studio: first render of a 1,000-step run's graph in Chromium, against a 10-step run's

async function benchG() {
  const { steps, reps } = options.quick ? { steps: 300, reps: 2 } : { steps: 1000, reps: 3 };
  log(`\n(g) the studio's run page in Chromium: a ${steps}-step run's graph against a 10-step run's`);
  const { CHROMIUM, launchChromium } = await import('../chromium.mjs');
  if (!existsSync(CHROMIUM)) {
    log(`  skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set SLUICE_CHROMIUM)`);
    return;
  }
  const { serve, createToken } = await import('@sluice/publish');
  const { studioAssets } = await import('@sluice/studio');
  const dir = join(root, 'g-ws');
  const ws = Workspace.create(dir, { name: 'bench-g' });
  let server;
  let browser;
  try {
    await ComputeTarget.create(ws, 'bench', localCompute({ maxConcurrency: 2 }));
    const experiment = new Experiment(ws, 'bench-g');
    progress(`  runs of ${steps} and 10 trivial steps (not timed) `);
    const large = await experiment.submit(noopPipeline(steps, 4));
    if ((await large.waitForCompletion()) !== 'Finished') throw new Error('the large run did not finish');
    const small = await experiment.submit(noopPipeline(10, 2));
    if ((await small.waitForCompletion()) !== 'Finished') throw new Error('the small run did not finish');
    log('done');
    const { token } = createToken(ws, { scope: 'read' });
    server = await serve({ workspace: ws, studio: studioAssets(), schedules: false });
    browser = await launchChromium();

    /** Open the run page in a fresh page; the graph's first render, in ms from navigation start. */
    const firstRender = async (runId, stepName) => {
      const context = await browser.newContext({
        viewport: { width: 1400, height: 900 },
        extraHTTPHeaders: { authorization: `Bearer ${token}` },
      });
      const page = await context.newPage();
      await page.goto(`${server.url}/#/runs/${runId}`);
      const ms = await page.waitForFunction(
        () => performance.getEntriesByName('sluice:graph-rendered')[0]?.startTime,
        undefined,
        { timeout: 120_000 },
      );
      const rendered = await ms.jsonValue();
      // responsiveness: a click on a step until its panel shows
      const node = page.getByTestId(`node-${stepName}`);
      await node.waitFor();
      const clickStart = Date.now();
      await node.click();
      await page.getByTestId('step-panel').waitFor();
      const clickMs = Date.now() - clickStart;
      await context.close();
      return { rendered, clickMs };
    };

    const largeTimes = [];
    const smallTimes = [];
    for (let i = 0; i < reps; i++) {
      smallTimes.push(await firstRender(small.id, 's0000'));
      largeTimes.push(await firstRender(large.id, 's0000'));
    }
    const largeMs = median(largeTimes.map((t) => t.rendered));
    const smallMs = median(smallTimes.map((t) => t.rendered));
    const clickMs = median(largeTimes.map((t) => t.clickMs));
    log(
      `  first render: ${steps} steps ${fmtMs(largeMs)}, 10 steps ${fmtMs(smallMs)} (medians of ${reps}); ` +
        `a click to the step panel on the ${steps}-step page: ${fmtMs(clickMs)}`,
    );
    results.push({
      id: 'g',
      what: `Studio: first render of a ${steps}-step run's graph (Chromium)`,
      sluice: fmtMs(largeMs),
      baseline: `${fmtMs(smallMs)} (10-step run)`,
      ratio: fmtRatio(largeMs / smallMs),
      goal: '≤ 2 s; click ≤ 200 ms',
      ok: largeMs <= 2000 && clickMs <= 200,
      note: `a click on a step of the ${steps}-step graph opened its panel in ${fmtMs(clickMs)} (median); 1-minute load average ${loadavg()[0].toFixed(2)}`,
    });
  } finally {
    await browser?.close();
    await server?.close();
    await ws.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// (i) `sluice run` of a no-op on a terminal (a pseudo-terminal made by script(1)) against the same command piped

async function benchI() {
  const { steps, reps } = options.quick ? { steps: 200, reps: 2 } : { steps: 1000, reps: 3 };
  log(`\n(i) sluice run of a ${steps}-step no-op, everything reused: on a terminal against piped`);
  if (spawnSync('script', ['--version']).status !== 0) {
    log('  skipped: no script(1) (util-linux) to make a pseudo-terminal');
    return;
  }
  const dir = join(root, 'i-ws');
  const ws = Workspace.create(dir, { name: 'bench-i' });
  await ComputeTarget.create(ws, 'bench', localCompute({ maxConcurrency: 2 }));
  await ws.close();
  const bin = join(dirname(require.resolve('@sluice/cli/package.json')), 'bin', 'sluice.js');
  const module = join(import.meta.dirname, 'noop-pipeline.mjs');
  const command = [process.execPath, bin, 'run', module, '-w', dir];
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'CI'));
  Object.assign(env, { SLUICE_BENCH_STEPS: String(steps), TERM: 'xterm-256color' });
  const quote = (word) => `'${word.replaceAll("'", `'\\''`)}'`;
  const timed = (pty) => {
    const start = performance.now();
    const result = pty
      ? spawnSync('script', ['-qec', command.map(quote).join(' '), '/dev/null'], { env, encoding: 'utf8' })
      : spawnSync(command[0], command.slice(1), { env, encoding: 'utf8' });
    const ms = performance.now() - start;
    if (result.status !== 0)
      throw new Error(`sluice run exited ${result.status}:\n${result.stdout}${result.stderr}`);
    return { ms, output: result.stdout };
  };
  progress('  cold run (not timed) ');
  timed(false);
  log('done');
  const piped = [];
  const terminal = [];
  let drawn = false;
  for (let i = 0; i < reps; i++) {
    piped.push(timed(false).ms);
    const onTerminal = timed(true);
    terminal.push(onTerminal.ms);
    // the table was drawn (cursor movements), not the one-line-per-change output of a pipe
    drawn ||= onTerminal.output.includes('\x1b[');
  }
  const pipedMs = median(piped);
  const terminalMs = median(terminal);
  log(`  piped ${fmtMs(pipedMs)}, on a terminal ${fmtMs(terminalMs)} (medians of ${reps})`);
  results.push({
    id: 'i',
    what: `\`sluice run\`, ${steps}-step no-op, on a terminal (pty)`,
    sluice: fmtMs(terminalMs),
    baseline: `${fmtMs(pipedMs)} (piped)`,
    ratio: fmtRatio(terminalMs / pipedMs),
    goal: '≤ 1.10×',
    ok: terminalMs / pipedMs <= 1.1 && drawn,
    note: `${drawn ? 'the live table was drawn' : 'no live table was drawn: not a terminal?'}; 1-minute load average ${loadavg()[0].toFixed(2)}`,
  });
}

// ---------------------------------------------------------------------------------------------------------
// main

function printTable() {
  const header = ['#', 'Measurement', 'Sluice', 'Baseline (same run)', 'Ratio', 'Goal', ''];
  const rows = results.map((r) => [r.id, r.what, r.sluice, r.baseline, r.ratio, r.goal, r.ok ? '✓' : '✗']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  console.log('');
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
  const notes = results.filter((r) => r.note);
  if (notes.length) {
    console.log('');
    for (const r of notes) console.log(`- ${r.id}: ${r.note}`);
  }
}

try {
  log(
    `Sluice bench${options.quick ? ' (quick)' : ''}: node ${process.version}, temp data in ${root}` +
      (options.profile ? `, CPU profiles in ${options.profile}` : ''),
  );
  const cores = availableParallelism();
  const load = loadavg()[0];
  if (load > cores * 0.5) {
    log(
      `WARNING: the 1-minute load average is ${load.toFixed(2)} on ${cores} cores: other work will skew timings`,
    );
  }
  if (options.only.has('a')) await benchA();
  if (options.only.has('b')) await benchB();
  if (options.only.has('c')) await benchC();
  if (options.only.has('d')) await benchD();
  if (options.only.has('e')) results.push(...(await measureServeLoad({ quick: options.quick })));
  if (options.only.has('f')) await benchF();
  if (options.only.has('g')) await benchG();
  if (options.only.has('h')) results.push(...(await measureSlurm({ quick: options.quick, root, log })));
  if (options.only.has('i')) await benchI();
  if (options.only.has('j') || options.only.has('k')) {
    const [cold, noop] = [options.only.has('j'), options.only.has('k')];
    await measureSnakemake({ quick: options.quick, root, log, rows: results, cold, noop });
  }
  printTable();
  const loadAfter = loadavg()[0];
  console.log(
    `\nnode ${process.version}, ${availableParallelism()} cores, 1-minute load average ${load.toFixed(2)} before, ${loadAfter.toFixed(2)} after`,
  );
} catch (error) {
  if (results.length) printTable();
  console.error(error);
  process.exitCode = 1;
} finally {
  if (session) session.disconnect();
  cleanup();
}
