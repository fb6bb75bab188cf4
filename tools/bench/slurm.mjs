// (h) Steps on a real Slurm cluster (tools/slurm/cluster.sh): a fan-out and a chain of trivial Python steps,
// against the same jobs submitted by a shell loop of `sbatch --wait` and by Snakemake's cluster mode.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pipeline } from '@sluice/core';
import { ComputeTarget, Experiment, Workspace } from '@sluice/runtime';
import { PythonScriptStep } from '@sluice/step-python';
import { slurmCompute, slurmComputeProvider } from '@sluice/compute-slurm';

const DEFAULT_CONF = '/tmp/sluice-slurm/slurm.conf';

function clusterConf() {
  const conf = process.env.SLURM_CONF ?? DEFAULT_CONF;
  if (!existsSync(conf)) return undefined;
  try {
    execFileSync('sinfo', ['-h', '-o', '%t'], { env: { ...process.env, SLURM_CONF: conf }, stdio: 'pipe' });
    return conf;
  } catch {
    return undefined;
  }
}

function timeShell(command, cwd, env) {
  const start = performance.now();
  const result = spawnSync('sh', ['-c', command], { cwd, env, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (result.status !== 0) throw new Error(`${command.slice(0, 80)}… failed: ${result.stderr.slice(-500)}`);
  return performance.now() - start;
}

/** A Snakefile with one rule per step: independent (fan-out) or each after the one before (chain). */
function snakefile(steps, chain) {
  const rules = [
    `rule all:\n    input: "out/s${steps - 1}.done"${chain ? '' : ', ' + 'expand("out/s{i}.done", i=range(' + steps + '))'}\n`,
  ];
  for (let i = 0; i < steps; i++) {
    const input = chain && i > 0 ? `    input: "out/s${i - 1}.done"\n` : '';
    rules.push(
      `rule s${i}:\n${input}    output: "out/s${i}.done"\n    shell: "python3 script.py ${i + 1} && touch {output}"\n`,
    );
  }
  return rules.join('\n');
}

/**
 * Measure (h); returns its result rows. `log` prints progress; `root` is the benchmark's temp folder (on the
 * filesystem the nodes share: here, the same machine).
 */
export async function measureSlurm({ quick, root, log }) {
  const sizes = quick ? { fanOut: 20, chain: 5 } : { fanOut: 200, chain: 50 };
  const conf = clusterConf();
  if (!conf) {
    log('\n(h) skipped: no Slurm cluster (sudo tools/slurm/cluster.sh up; SLURM_CONF)');
    return [
      {
        id: 'h',
        what: 'Steps on a Slurm cluster',
        sluice: '—',
        baseline: '—',
        ratio: '—',
        goal: '—',
        ok: true,
        note: 'skipped: no Slurm cluster answered (sudo tools/slurm/cluster.sh up, or set SLURM_CONF)',
      },
    ];
  }
  const env = { ...process.env, SLURM_CONF: conf };
  const snakemake = spawnSync('snakemake', ['--version'], { encoding: 'utf8' }).status === 0;
  const source = join(root, 'h-src');
  mkdirSync(source, { recursive: true });
  writeFileSync(join(source, 'script.py'), 'import sys\n\nsys.exit(0)\n');
  const rows = [];
  // the baselines of a shape, measured once: the job-array variant of the fan-out is set against the same
  const baselines = new Map();

  for (const [shape, steps, arrays] of [
    ['fan-out', sizes.fanOut, false],
    ['chain', sizes.chain, false],
    ['fan-out', sizes.fanOut, true],
  ]) {
    const chain = shape === 'chain';
    const label = arrays ? `${shape} with jobArrays` : shape;
    log(`\n(h) a ${steps}-step ${label} of trivial Python steps on the Slurm cluster`);
    const measured = baselines.get(shape);
    if (measured) {
      log('  baselines: as measured above');
    } else {
      // (a) a shell loop of sbatch --wait: all at once for the fan-out, one after another for the chain
      const wrap = (i) =>
        `sbatch --wait --quiet --output=/dev/null --chdir=. --wrap='python3 script.py ${i}'`;
      const loop = chain
        ? `for i in $(seq ${steps}); do ${wrap('$i')} || exit 1; done`
        : `for i in $(seq ${steps}); do ${wrap('$i')} & done; wait`;
      const loopMs = timeShell(loop, source, env);
      log(`  sbatch --wait loop: ${(loopMs / 1000).toFixed(1)} s`);

      // (b) Snakemake's cluster mode, each job submitted with sbatch
      let snakeMs;
      if (snakemake) {
        const dir = join(root, `h-snake-${shape}`);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'script.py'), 'import sys\n\nsys.exit(0)\n');
        writeFileSync(join(dir, 'Snakefile'), snakefile(steps, chain));
        snakeMs = timeShell(
          `snakemake --quiet --jobs ${steps} --latency-wait 10 --cluster 'sbatch --parsable --output=/dev/null' >/dev/null 2>&1`,
          dir,
          env,
        );
        log(`  snakemake --cluster sbatch: ${(snakeMs / 1000).toFixed(1)} s`);
      } else {
        log('  snakemake: not installed (apt-get install snakemake), not measured');
      }
      baselines.set(shape, { loopMs, snakeMs });
    }
    const { loopMs, snakeMs } = baselines.get(shape);

    // Sluice: a fresh workspace, the steps on a Slurm compute target with its default polling
    const ws = Workspace.create(join(root, `h-ws-${shape}${arrays ? '-arrays' : ''}`), {
      name: `bench-h-${shape}`,
    });
    let sluiceMs;
    let calls;
    try {
      ws.registry.use(slurmComputeProvider());
      const target = await ComputeTarget.create(
        ws,
        'cluster',
        slurmCompute({ slurmConf: conf, ...(arrays ? { jobArrays: true } : {}) }),
      );
      const list = [];
      for (let i = 0; i < steps; i++) {
        list.push(
          new PythonScriptStep({
            name: `s${String(i + 1).padStart(4, '0')}`,
            scriptName: 'script.py',
            sourceDirectory: source,
            arguments: [String(i + 1)],
            computeTarget: 'cluster',
            ...(chain && i > 0 ? { runAfter: [list[i - 1]] } : {}),
          }),
        );
      }
      const start = performance.now();
      const run = await new Experiment(ws, 'bench-h').submit(
        new Pipeline({ name: `h-${shape}`, steps: list }),
      );
      const status = await run.waitForCompletion();
      sluiceMs = performance.now() - start;
      if (status !== 'Finished') throw new Error(`the Slurm ${shape} ended ${status}`);
      calls = target.calls;
    } finally {
      await ws.close();
    }
    const controller = calls.sbatch + calls.squeue + calls.sacct + calls.scontrol + calls.scancel;
    log(
      `  sluice: ${(sluiceMs / 1000).toFixed(1)} s; controller calls: ${controller} ` +
        `(sbatch ${calls.sbatch}, squeue ${calls.squeue}, scontrol ${calls.scontrol}, sacct ${calls.sacct})`,
    );
    const perStep = (ms) => `${(ms / steps).toFixed(0)} ms/step`;
    rows.push({
      id: 'h',
      what: `Slurm: ${steps}-step ${label} (wall time)`,
      sluice: `${(sluiceMs / 1000).toFixed(1)} s`,
      baseline: `${(loopMs / 1000).toFixed(1)} s (sbatch --wait loop)${snakeMs === undefined ? '' : `, ${(snakeMs / 1000).toFixed(1)} s (snakemake)`}`,
      ratio: `${(sluiceMs / loopMs).toFixed(2)}×${snakeMs === undefined ? '' : ` / ${(sluiceMs / snakeMs).toFixed(2)}×`}`,
      goal: '≤ 1.00×',
      ok: sluiceMs <= loopMs && (snakeMs === undefined || sluiceMs <= snakeMs),
      note:
        `${label}: per step sluice ${perStep(sluiceMs)}, sbatch --wait loop ${perStep(loopMs)}` +
        (snakeMs === undefined ? ', snakemake not installed' : `, snakemake ${perStep(snakeMs)}`) +
        `; Sluice's controller calls per step ${(controller / steps).toFixed(2)} (sbatch ${calls.sbatch}, ` +
        `status queries ${calls.squeue + calls.sacct + calls.scontrol}, ${calls.sacct ? 'sacct' : 'squeue'} mode); ` +
        `the loop makes 1 sbatch per step plus each sbatch --wait's own polling, snakemake 1 sbatch per step`,
    });
  }
  return rows;
}
