import { Option, type Command } from 'commander';
import { collectGarbage } from '@sluice/runtime';
import { durationMs, openWorkspace, wholeNumber, workspaceOption, type CommandContext } from '../context.js';
import { formatBytes, table } from '../format.js';

export function register(program: Command, { io }: CommandContext): void {
  program
    .command('gc')
    .description('delete intermediate outputs that no kept run, dataset or latest step result needs')
    .option('--keep-last <n>', 'keep the outputs of the newest n runs', wholeNumber(0), 10)
    .addOption(
      new Option('--older-than <age>', 'delete only outputs of runs older than this (e.g. 30d, 12h)')
        .argParser(durationMs)
        .default(durationMs('30d'), '30d'),
    )
    .option('--dry-run', 'show what would be deleted, delete nothing')
    .option('--all-environments', 'also remove built environments kept runs used (never one in use)')
    .option('--json', 'print JSON')
    .addOption(workspaceOption())
    .action(
      async (options: {
        keepLast: number;
        olderThan: number;
        dryRun?: boolean;
        allEnvironments?: boolean;
        json?: boolean;
        workspace?: string;
      }) => {
        const ws = await openWorkspace(options);
        try {
          const report = await collectGarbage(ws, {
            keepLast: options.keepLast,
            olderThanMs: options.olderThan,
            dryRun: Boolean(options.dryRun),
            allEnvironments: Boolean(options.allEnvironments),
          });
          if (options.json) {
            io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
            return;
          }
          const verb = report.dryRun ? 'Would delete' : 'Deleted';
          if (report.deleted.length > 0) {
            const rows = report.deleted.map((item) => [
              `${item.datastore}:${item.path}`,
              formatBytes(item.bytes),
              item.reason,
            ]);
            io.stdout.write(`${table(['LOCATION', 'SIZE', 'WHY'], rows)}\n\n`);
          }
          io.stdout.write(
            `${verb} ${report.deleted.length} item${report.deleted.length === 1 ? '' : 's'}, ${formatBytes(report.freedBytes)}; kept the outputs of ${report.retainedRuns} run${report.retainedRuns === 1 ? '' : 's'}, registered datasets, the latest result of every step and the environments kept runs used.\n`,
          );
        } finally {
          await ws.close();
        }
      },
    );
}
