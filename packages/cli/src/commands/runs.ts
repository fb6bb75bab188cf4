import type { Command } from 'commander';
import { commandHint, openWorkspace, wholeNumber, workspaceOption, type CommandContext } from '../context.js';
import { duration, status, table } from '../format.js';
import { runSummary } from '../runs.js';

export function register(program: Command, { io }: CommandContext): void {
  program
    .command('runs')
    .description('list pipeline runs, newest first')
    .option('-e, --experiment <name>', 'only this experiment')
    .option('-n, --limit <n>', 'how many', wholeNumber(1), 20)
    .option('--json', 'print JSON')
    .addOption(workspaceOption())
    .action(async (options: { experiment?: string; limit: number; json?: boolean; workspace?: string }) => {
      const ws = await openWorkspace(options);
      try {
        const runs = ws.store.listRuns({
          ...(options.experiment ? { experiment: options.experiment } : {}),
          limit: options.limit,
        });
        if (options.json) {
          io.stdout.write(`${JSON.stringify(runs.map(runSummary), null, 2)}\n`);
          return;
        }
        if (runs.length === 0) {
          const start = commandHint('run <pipeline.ts>', options.workspace && ws.dir);
          io.stdout.write(`No runs yet. Start one with: ${start}\n`);
          return;
        }
        const rows = runs.map((run) => {
          const steps = ws.store.getStepRuns(run.id);
          const reused = steps.filter((step) => step.status === 'Reused').length;
          return [
            run.id,
            run.experiment,
            status(run.status),
            run.createdAt.replace('T', ' ').slice(0, 19),
            duration(run.startedAt, run.endedAt),
            `${steps.length} (${reused} reused)`,
          ];
        });
        io.stdout.write(`${table(['RUN', 'EXPERIMENT', 'STATUS', 'CREATED', 'TIME', 'STEPS'], rows)}\n`);
      } finally {
        await ws.close();
      }
    });
}
