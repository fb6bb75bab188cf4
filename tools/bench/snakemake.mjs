// (j) Per-step overhead against Snakemake: the same chains and fans of trivial shell steps (`echo x > out`),
// cold and as a no-op re-run, Sluice on `localCompute({ maxConcurrency: 2 })` against Snakemake `--cores 2`.
// See tools/bench/README.md, (j).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { ComputeTarget, Experiment, Workspace, localCompute } from '@sluice/runtime';
import { shellPipeline } from './shell-pipeline.mjs';

const require = createRequire(import.meta.url);

/** Debian's interpreter, which has Debian's snakemake package (not a pyenv or venv one that lacks it). */
const PYTHON = '/usr/bin/python3';

/**
 * A Snakefile for `steps` trivial steps, idiomatic for Snakemake: one wildcard rule (not one rule per step,
 * which would make Snakemake match every file against every rule), `rule all` asking for the last file of a
 * `chain` (each step's input is the step before's output) or every file of a `fan` (independent steps).
 */
export function snakefile(steps, shape) {
  const target = shape === 'chain' ? `"out/s${steps - 1}"` : `expand("out/s{i}", i=range(${steps}))`;
  const input =
    shape === 'chain' ? '    input: lambda w: [] if int(w.i) == 0 else [f"out/s{int(w.i) - 1}"]\n' : '';
  return [
    `rule all:\n    input: ${target}\n`,
    `rule step:\n${input}    output: "out/s{i}"\n    shell: "echo x > {output}"\n`,
  ].join('\n');
}

/**
 * Snakemake 7.21 walks the DAG recursively: a 1,000-deep chain exceeds Python's default recursion limit of
 * 1,000, so it runs from `python3 -c` with a higher one (and a large thread stack for the deep recursion),
 * and writes its own peak RSS (KiB) to the file named by its first argument when it exits.
 */
const SNAKEMAKE_MAIN = `
import atexit, resource, sys, threading
rss_file = sys.argv[1]
atexit.register(lambda: open(rss_file, "w").write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))
sys.setrecursionlimit(1_000_000)
threading.stack_size(1 << 30)
from snakemake import main
sys.argv = ["snakemake"] + sys.argv[2:]
code = []
def run():
    try:
        main()
    except SystemExit as exit:
        code.append(exit.code)
thread = threading.Thread(target=run)
thread.start()
thread.join()
sys.exit(code[0] if code else 1)
`;

/**
 * Whether Debian's snakemake can run; installs it with apt when missing and running as root. Returns
 * `undefined` when it can, or the line to print when it cannot.
 */
export function ensureSnakemake(log) {
  const installed = () => spawnSync(PYTHON, ['-c', 'import snakemake'], { stdio: 'ignore' }).status === 0;
  if (installed()) return undefined;
  if (process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0) {
    log('  installing snakemake: apt-get install -y snakemake');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let result = spawnSync('apt-get', ['install', '-y', 'snakemake'], { env, encoding: 'utf8' });
    if (result.status !== 0) {
      spawnSync('apt-get', ['update'], { env, stdio: 'ignore' });
      result = spawnSync('apt-get', ['install', '-y', 'snakemake'], { env, encoding: 'utf8' });
    }
    if (installed()) return undefined;
  }
  return 'snakemake not installed (apt-get install snakemake): not measured';
}

/** Spawn a command, resolving with its wall time and output; rejects on a non-zero exit. */
function timed(command, args, { cwd, env }) {
  return new Promise((resolvePromise, reject) => {
    const start = performance.now();
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = performance.now() - start;
      if (code === 0) resolvePromise({ ms, output });
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output.slice(-2000)}`));
    });
  });
}

const readRss = (file) => Number(readFileSync(file, 'utf8')) / 1024; // KiB → MiB

/** One Snakemake folder: its Snakefile, and a run of it (cold the first time, then a no-op). */
function snakemakeProject(dir, steps, shape) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Snakefile'), snakefile(steps, shape));
  const rssFile = join(dir, 'peak-rss');
  return {
    async run() {
      const args = ['-c', SNAKEMAKE_MAIN, rssFile, '--cores', '2', '--snakefile', 'Snakefile'];
      const { ms, output } = await timed(PYTHON, args, { cwd: dir, env: process.env });
      return { ms, output, rssMiB: readRss(rssFile) };
    },
  };
}

/** One Sluice workspace with the `bench` target, and `sluice run` of the shell pipeline in it. */
async function sluiceProject(dir, steps, shape) {
  const ws = Workspace.create(dir, { name: `bench-j-${shape}` });
  await ComputeTarget.create(ws, 'bench', localCompute({ maxConcurrency: 2 }));
  await ws.close();
  const bin = join(dirname(require.resolve('@sluice/cli/package.json')), 'bin', 'sluice.js');
  const module = join(import.meta.dirname, 'shell-pipeline.mjs');
  const rssFile = join(dir, 'peak-rss');
  const preload = join(import.meta.dirname, 'peak-rss.mjs');
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'CI'));
  Object.assign(env, {
    SLUICE_BENCH_STEPS: String(steps),
    SLUICE_BENCH_SHAPE: shape,
    SLUICE_BENCH_RSS_FILE: rssFile,
  });
  return {
    experiment: `bench-shell-${shape}`,
    /** `sluice run` in a new process (piped: one line per change), start-up and imports included. */
    async run() {
      const args = ['--import', pathToFileURL(preload).href, bin, 'run', module, '-w', dir];
      const { ms, output } = await timed(process.execPath, args, { env });
      return { ms, output, rssMiB: readRss(rssFile) };
    },
    /** The same pipeline submitted in this process (a no-op when the run before did the work). */
    async runInProcess() {
      const ws = Workspace.open(dir);
      try {
        const start = performance.now();
        const run = await new Experiment(ws, this.experiment).submit(shellPipeline(steps, shape));
        await run.waitForCompletion({ raiseOnError: false });
        return performance.now() - start;
      } finally {
        await ws.close();
      }
    },
    /** How many steps of the latest run ended with each status. */
    async lastRunStatuses() {
      const ws = Workspace.open(dir);
      try {
        const [latest] = ws.store.listRuns({ experiment: this.experiment, limit: 1 });
        const counts = {};
        for (const record of ws.store.getStepRuns(latest.id))
          counts[record.status] = (counts[record.status] ?? 0) + 1;
        return counts;
      } finally {
        await ws.close();
      }
    },
  };
}

const median = (values) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmtS = (ms) => `${(ms / 1000).toFixed(2)} s`;
const load = () => loadavg()[0].toFixed(2);

/**
 * Measure (j), the cold graphs, and/or (k), the no-op re-runs, adding each result row to `rows` as soon as
 * it is measured (a later failure keeps them). `root` is the benchmark's temp folder; `log` prints
 * progress. Every figure is Sluice's against Snakemake's from the same run, the two sides alternating.
 */
export async function measureSnakemake({ quick, root, log, rows, cold = true, noop = true }) {
  const sizes = quick
    ? { cold: [50, 100], coldReps: [1, 1], noop: [50, 100, 200], noopReps: 2 }
    : { cold: [200, 1000], coldReps: [3, 2], noop: [200, 1000, 5000], noopReps: 3 };
  const which = [cold && '(j) cold', noop && '(k) no-op'].filter(Boolean).join(' and ');
  log(`\n${which}: per-step overhead against Snakemake, trivial shell steps, 2 at a time`);
  const missing = ensureSnakemake(log);
  if (missing) log(`  ${missing}`);
  const peer = !missing;
  /** The last cold chain of each size, kept for its no-op. */
  const chains = new Map();

  for (const shape of cold ? ['chain', 'fan'] : []) {
    for (const [index, steps] of sizes.cold.entries()) {
      const reps = sizes.coldReps[index];
      const pairs = [];
      for (let rep = 0; rep < reps; rep++) {
        const dir = join(root, `j-${shape}-${steps}-${rep}`);
        const sluice = await sluiceProject(join(dir, 'sluice'), steps, shape);
        const snakemake = snakemakeProject(join(dir, 'snakemake'), steps, shape);
        const pair = {};
        const order = rep % 2 === 0 || !peer ? ['sluice', 'snakemake'] : ['snakemake', 'sluice'];
        for (const side of order) {
          if (side === 'snakemake' && !peer) continue;
          const loadBefore = load();
          pair[side] = await (side === 'sluice' ? sluice : snakemake).run();
          log(`  cold ${steps}-step ${shape}, ${side}: ${fmtS(pair[side].ms)} (load ${loadBefore})`);
        }
        const statuses = await sluice.lastRunStatuses();
        if (statuses.Finished !== steps) throw new Error(`cold ${shape}: ${JSON.stringify(statuses)}`);
        pairs.push(pair);
        if (shape === 'chain') {
          const previous = chains.get(steps);
          if (previous) rmSync(previous.dir, { recursive: true, force: true });
          chains.set(steps, { sluice, snakemake, dir });
        } else rmSync(dir, { recursive: true, force: true });
      }
      const sluiceMs = median(pairs.map((pair) => pair.sluice.ms));
      const peerMs = peer ? median(pairs.map((pair) => pair.snakemake.ms)) : undefined;
      const ratios = peer ? pairs.map((pair) => pair.sluice.ms / pair.snakemake.ms) : [];
      const goal = shape === 'chain' ? 0.8 : 0.4;
      rows.push({
        id: 'j',
        what: `Cold ${steps}-step ${shape}, trivial shell steps (\`sluice run\`)`,
        sluice: `${fmtS(sluiceMs)} (${(sluiceMs / steps).toFixed(1)} ms/step)`,
        baseline: peer ? `${fmtS(peerMs)} (snakemake --cores 2)` : 'not measured',
        ratio: peer ? `${median(ratios).toFixed(2)}×` : '—',
        goal: `≤ ${goal}×`,
        ok: peer && median(ratios) <= goal,
        note:
          `cold ${steps}-step ${shape}: ` +
          (peer ? `paired ratios ${ratios.map((r) => r.toFixed(2)).join(', ')}; ` : `${missing}; `) +
          `1-minute load average ${load()}`,
      });
    }
  }

  for (const steps of noop ? sizes.noop : []) {
    let project = chains.get(steps);
    if (!project) {
      const dir = join(root, `j-chain-${steps}-noop`);
      project = {
        sluice: await sluiceProject(join(dir, 'sluice'), steps, 'chain'),
        snakemake: snakemakeProject(join(dir, 'snakemake'), steps, 'chain'),
        dir,
      };
      const cold = await project.sluice.run();
      log(`  cold ${steps}-step chain for the no-op, sluice: ${fmtS(cold.ms)} (not a row)`);
      if (peer) {
        const coldPeer = await project.snakemake.run();
        log(`  cold ${steps}-step chain for the no-op, snakemake: ${fmtS(coldPeer.ms)} (not a row)`);
      }
    }
    // the outputs well outside the stat cache's racy window (100 ms), as for (a)
    await sleep(200);
    // in process: the first re-run hashes the outputs (and records their stat stamps), the next one does not
    let reusedInProcess = steps;
    const inProcess = [];
    for (const which of ['first', 'second']) {
      const ms = await project.sluice.runInProcess();
      reusedInProcess = Math.min(reusedInProcess, (await project.sluice.lastRunStatuses()).Reused ?? 0);
      inProcess.push(ms);
      log(
        `  no-op ${steps}-step chain in process, ${which} re-run: ${fmtS(ms)} (${(ms / steps).toFixed(3)} ms/step; ` +
          `load ${load()})`,
      );
    }
    const [firstMs, inProcessMs] = inProcess;
    const pairs = [];
    for (let rep = 0; rep < sizes.noopReps; rep++) {
      const pair = {};
      const order = rep % 2 === 0 || !peer ? ['sluice', 'snakemake'] : ['snakemake', 'sluice'];
      for (const side of order) {
        if (side === 'snakemake' && !peer) continue;
        const loadBefore = load();
        pair[side] = await project[side].run();
        log(
          `  no-op ${steps}-step chain, ${side}: ${fmtS(pair[side].ms)}, peak RSS ${pair[side].rssMiB.toFixed(0)} MiB (load ${loadBefore})`,
        );
      }
      if (peer && !/Nothing to be done/.test(pair.snakemake.output))
        throw new Error(`snakemake's no-op ran something:\n${pair.snakemake.output.slice(-2000)}`);
      pairs.push(pair);
    }
    const reused = (await project.sluice.lastRunStatuses()).Reused ?? 0;
    rmSync(project.dir, { recursive: true, force: true });
    const sluiceMs = median(pairs.map((pair) => pair.sluice.ms));
    const sluiceRss = Math.max(...pairs.map((pair) => pair.sluice.rssMiB));
    const ratios = peer ? pairs.map((pair) => pair.sluice.ms / pair.snakemake.ms) : [];
    const perStep = inProcessMs / steps;
    rows.push({
      id: 'k',
      what: `No-op ${steps}-step chain, \`sluice run\` whole process`,
      sluice: `${fmtS(sluiceMs)}, ${sluiceRss.toFixed(0)} MiB; in process ${perStep.toFixed(3)} ms/step`,
      baseline: peer
        ? `${fmtS(median(pairs.map((pair) => pair.snakemake.ms)))}, ${Math.max(...pairs.map((pair) => pair.snakemake.rssMiB)).toFixed(0)} MiB (snakemake)`
        : 'not measured',
      ratio: peer ? `${median(ratios).toFixed(2)}×` : '—',
      goal: '≤ 0.25×, ≤ 0.25 ms/step',
      ok: peer && median(ratios) <= 0.25 && perStep <= 0.25 && reused === steps && reusedInProcess === steps,
      note:
        `no-op ${steps}-step chain: ` +
        (peer ? `paired ratios ${ratios.map((r) => r.toFixed(2)).join(', ')}; ` : `${missing}; `) +
        `in process ${(firstMs / steps).toFixed(3)} ms/step the first re-run (outputs hashed), ` +
        `${perStep.toFixed(3)} the next; ` +
        `${reused}/${steps} reused by \`sluice run\`, ${reusedInProcess}/${steps} in process; peak RSS is the ` +
        `largest of the runs; 1-minute load average ${load()}`,
    });
  }
}
