// The no-op pipeline of the benchmark's (a), (g) and (i): a tiny step kind and a generated graph of it. As a
// module for `sluice run` (default export), its size comes from SLUICE_BENCH_STEPS (default 1000).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Pipeline, PipelineData, defineStep } from '@sluice/core';

/** What the benchmark's step kinds share: their plugin, and a fingerprint of the step's index alone. */
export const benchStepKind = {
  type: 'step',
  name: 'sluice-bench',
  version: '1.0.0',
  coreRange: '^0.1.0',
  reuseVersion: '1',
  fingerprint: (step) => [{ name: 'index', value: step.config.index }],
};

/** A tiny step kind: starts `node -e ''` on the compute target and writes one small file as its output. */
export const noopPlugin = {
  ...benchStepKind,
  kind: 'bench-noop',
  async execute(ctx) {
    const result = await ctx.compute.runProcess(
      {
        command: process.execPath,
        args: ['-e', ''],
        cwd: ctx.workDir,
        env: { PATH: process.env.PATH ?? '' },
      },
      { signal: ctx.signal, onStdout: ctx.logs.stdout, onStderr: ctx.logs.stderr },
    );
    if (result.canceled) return { status: 'Canceled' };
    if (result.exitCode !== 0) return { status: 'Failed', exitCode: result.exitCode, error: 'node failed' };
    for (const folder of Object.values(ctx.outputs)) {
      await writeFile(join(folder, 'out.txt'), `${ctx.step.config.index}\n`);
    }
    return { status: 'Finished', exitCode: 0 };
  },
};

/**
 * `steps` steps: a root, then `chains` chains hanging from it (step i consumes the output of step i - chains,
 * or of the root). Every step has one PipelineData output, so each reuse decision checks the input's digest
 * and the stored output's content.
 */
export function noopPipeline(steps, chains) {
  const outputs = [];
  const list = [];
  for (let i = 0; i < steps; i++) {
    const name = `s${String(i).padStart(4, '0')}`;
    const out = new PipelineData(`d${i}`); // output names must be unique within a pipeline
    const upstream = i === 0 ? undefined : outputs[i <= chains ? 0 : i - chains];
    outputs.push(out);
    list.push(
      defineStep({
        kind: noopPlugin.kind,
        plugin: noopPlugin,
        name,
        inputs: upstream ? [upstream] : [],
        outputs: [out],
        computeTarget: 'bench',
        config: { index: i },
      }),
    );
  }
  return new Pipeline({ name: 'bench-noop', steps: list });
}

/** For `sluice run`: SLUICE_BENCH_STEPS steps in four chains, on the workspace's `bench` compute target. */
export default function pipeline() {
  return noopPipeline(Number(process.env.SLUICE_BENCH_STEPS ?? 1000), 4);
}
