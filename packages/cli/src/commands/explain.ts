import type { Command } from 'commander';
import pc from 'picocolors';
import { PipelineRun, type PipelineRunRecord, type StepExplanation } from '@sluice/runtime';
import { openWorkspace, workspaceOption, type CliIO, type CommandContext } from '../context.js';
import { status } from '../format.js';

function printExplanations(io: CliIO, run: PipelineRunRecord, explanations: StepExplanation[]): void {
  io.stdout.write(`${pc.bold(`Run ${run.id}`)} (${run.pipelineName}, ${status(run.status)})\n`);
  const label = (e: StepExplanation): string => e.displayName ?? e.step;
  const width = Math.max(...explanations.map((e) => label(e).length));
  for (const explanation of explanations) {
    const decision =
      explanation.decision === 'REUSED'
        ? pc.cyan('REUSED')
        : explanation.decision === 'RAN'
          ? pc.yellow('RAN   ')
          : pc.dim('NOT RUN');
    let head = `  ${label(explanation).padEnd(width)}  ${decision}`;
    if (explanation.reusedFrom) {
      head += `  from ${explanation.reusedFrom.stepRunId} ${pc.dim(`(run ${explanation.reusedFrom.runId})`)}`;
      io.stdout.write(`${head}\n`);
      continue;
    }
    if (explanation.comparedWith) head += pc.dim(`  compared with run ${explanation.comparedWith.runId}`);
    io.stdout.write(`${head}\n`);
    for (const reason of explanation.reasons) io.stdout.write(`  ${' '.repeat(width)}    • ${reason}\n`);
  }
}

export function register(program: Command, { io }: CommandContext): void {
  program
    .command('explain')
    .description('say why each step ran or was reused, naming what changed since the last run of that step')
    .argument('[run]', 'run id, unique prefix, or "latest"', 'latest')
    .argument('[step]', 'only this step (its id or its name)')
    .option('--json', 'print JSON')
    .addOption(workspaceOption())
    .action(
      async (id: string, stepName: string | undefined, options: { json?: boolean; workspace?: string }) => {
        const ws = await openWorkspace(options);
        try {
          const run = PipelineRun.get(ws, id);
          const steps = stepName ? [run.findStepRun(stepName)] : run.getSteps();
          const explanations = steps.map((step) => step.explain());
          if (options.json)
            io.stdout.write(`${JSON.stringify({ run: run.id, steps: explanations }, null, 2)}\n`);
          else printExplanations(io, run.record, explanations);
        } finally {
          await ws.close();
        }
      },
    );
}
