import type { Command } from 'commander';
import pc from 'picocolors';
import { Experiment } from '@sluice/runtime';
import {
  collectPair,
  commandHint,
  localUser,
  openWorkspace,
  workspaceOption,
  type CommandContext,
} from '../context.js';
import { duration, status, table } from '../format.js';
import { loadPipeline } from '../load-pipeline.js';
import { showProgress } from '../progress.js';
import { runSummary, stepRows } from '../runs.js';

export function register(program: Command, { io, result }: CommandContext): void {
  program
    .command('run')
    .description('run a pipeline module (.ts or .js) and show its progress')
    .argument('<pipeline>', 'a module whose default export is a Pipeline or ({ workspace }) => Pipeline')
    .option('-p, --param <name=value>', 'set a pipeline parameter (repeatable)', collectPair, {})
    .option(
      '-e, --experiment <name>',
      "the experiment to run in (default: the module's experimentName or the pipeline name)",
    )
    .option('--regenerate-outputs', 're-run every step instead of reusing earlier results')
    .option('--continue-on-step-failure', 'keep running steps that do not depend on a failed one')
    .option('-t, --tag <name=value>', 'tag the run (repeatable)', collectPair, {})
    .option('--logs', 'print step output as it comes')
    .option('--json', 'print the finished run as JSON instead of a table')
    .option(
      '-c, --compute <name>',
      "the workspace's compute target for steps that name none (default: local), e.g. a Slurm cluster",
    )
    .addOption(workspaceOption())
    .action(
      async (
        file: string,
        options: {
          param: Record<string, string>;
          experiment?: string;
          regenerateOutputs?: boolean;
          continueOnStepFailure?: boolean;
          tag: Record<string, string>;
          logs?: boolean;
          json?: boolean;
          compute?: string;
          workspace?: string;
        },
      ) => {
        const ws = await openWorkspace(options);
        try {
          const { pipeline, experimentName } = await loadPipeline(file, ws);
          const experiment = new Experiment(ws, options.experiment ?? experimentName ?? pipeline.name);
          const user = localUser();
          const run = await experiment.submit(pipeline, {
            parameters: options.param,
            regenerateOutputs: Boolean(options.regenerateOutputs),
            continueOnStepFailure: Boolean(options.continueOnStepFailure),
            tags: options.tag,
            runSource: 'CLI',
            ...(user ? { submittedBy: user } : {}),
            ...(options.compute ? { defaultComputeTarget: options.compute } : {}),
          });
          const stop = options.json
            ? () => undefined
            : showProgress(run, { logs: Boolean(options.logs), stream: io.stdout as NodeJS.WriteStream });
          const interrupt = (): void => {
            io.stderr.write('\nCanceling the run…\n');
            void run.cancel();
          };
          process.once('SIGINT', interrupt);
          process.once('SIGTERM', interrupt);
          let final;
          try {
            // a run that does not finish is this command's exit code 1, not an error
            final = await run.waitForCompletion({ raiseOnError: false });
          } finally {
            process.off('SIGINT', interrupt);
            process.off('SIGTERM', interrupt);
            stop();
          }
          const record = run.record;
          if (options.json) {
            io.stdout.write(
              `${JSON.stringify({ ...runSummary(record), steps: run.getSteps().map((s) => s.record) }, null, 2)}\n`,
            );
          } else {
            io.stdout.write(`\n${table(['STEP', 'STATUS', 'TIME', 'NOTE'], stepRows(run.getSteps()))}\n`);
            io.stdout.write(
              `\nRun ${record.id}: ${status(record.status)}  ${duration(record.startedAt, record.endedAt)}${record.error ? `  (${record.error})` : ''}\n`,
            );
            const explain = commandHint(`explain ${record.id}`, options.workspace && ws.dir);
            io.stdout.write(pc.dim(`Why each step ran or was reused: ${explain}\n`));
          }
          result.exitCode = final === 'Finished' ? 0 : 1;
        } finally {
          await ws.close();
        }
      },
    );
}
