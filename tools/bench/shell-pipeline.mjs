// The trivial shell steps of the benchmark's (j): each step runs `sh -c 'echo x > out'` through the compute
// target's `runProcess`, writing into its one output folder, as a Snakemake rule `shell: "echo x > {output}"`
// does. As a module for `sluice run` (default export), its size comes from SLUICE_BENCH_STEPS (default 1000)
// and its shape from SLUICE_BENCH_SHAPE (`chain`, the default, or `fan`).
import { join } from 'node:path';
import { Pipeline, PipelineData, defineStep } from '@sluice/core';
import { benchStepKind } from './noop-pipeline.mjs';

/** A shell step kind: `sh -c 'echo x > "$OUT"'` with OUT a file in the step's (one) output folder. */
export const shellPlugin = {
  ...benchStepKind,
  kind: 'bench-shell',
  async execute(ctx) {
    const [folder] = Object.values(ctx.outputs);
    const result = await ctx.compute.runProcess(
      {
        command: 'sh',
        args: ['-c', 'echo x > "$OUT"'],
        cwd: ctx.workDir,
        env: { PATH: process.env.PATH ?? '', OUT: join(folder, 'out') },
      },
      { signal: ctx.signal, onStdout: ctx.logs.stdout, onStderr: ctx.logs.stderr },
    );
    if (result.canceled) return { status: 'Canceled' };
    if (result.exitCode !== 0) return { status: 'Failed', exitCode: result.exitCode, error: 'sh failed' };
    return { status: 'Finished', exitCode: 0 };
  },
};

/**
 * `steps` shell steps, each with one output: a `chain` (step i consumes the output of step i - 1) or a `fan`
 * (independent steps, as many as the compute target runs at once).
 */
export function shellPipeline(steps, shape) {
  const list = [];
  let upstream;
  for (let i = 0; i < steps; i++) {
    const out = new PipelineData(`d${i}`);
    list.push(
      defineStep({
        kind: shellPlugin.kind,
        plugin: shellPlugin,
        name: `s${String(i).padStart(4, '0')}`,
        inputs: shape === 'chain' && upstream ? [upstream] : [],
        outputs: [out],
        computeTarget: 'bench',
        config: { index: i },
      }),
    );
    upstream = out;
  }
  return new Pipeline({ name: `bench-shell-${shape}`, steps: list });
}

/** For `sluice run`: SLUICE_BENCH_STEPS steps shaped SLUICE_BENCH_SHAPE, on the workspace's `bench` target. */
export default function pipeline() {
  return shellPipeline(
    Number(process.env.SLUICE_BENCH_STEPS ?? 1000),
    process.env.SLUICE_BENCH_SHAPE ?? 'chain',
  );
}
