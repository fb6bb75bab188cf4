import type { Command } from 'commander';
import pc from 'picocolors';
import { PipelineRun } from '@sluice/runtime';
import { openWorkspace, workspaceOption, type CommandContext } from '../context.js';

export function register(program: Command, { io }: CommandContext): void {
  program
    .command('logs')
    .description("print a step's stdout and stderr (every step when none is named)")
    .argument('[run]', 'run id, unique prefix, or "latest"', 'latest')
    .argument('[step]', 'step id or name')
    .option('--stderr', 'only stderr')
    .option('--stdout', 'only stdout')
    .option('--json', 'print JSON')
    .addOption(workspaceOption())
    .action(
      async (
        id: string,
        stepName: string | undefined,
        options: { stderr?: boolean; stdout?: boolean; json?: boolean; workspace?: string },
      ) => {
        const ws = await openWorkspace(options);
        try {
          const run = PipelineRun.get(ws, id);
          const steps = stepName ? [run.findStepRun(stepName)] : run.getSteps();
          const entries = [];
          for (const step of steps) {
            entries.push({
              step: step.name,
              ...(step.displayName !== step.name ? { displayName: step.displayName } : {}),
              status: step.status,
              ...(step.reusedFrom ? { reusedFrom: step.reusedFrom } : {}),
              stdout: options.stderr ? undefined : await step.getStdout(),
              stderr: options.stdout ? undefined : await step.getStderr(),
            });
          }
          if (options.json) {
            io.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
            return;
          }
          for (const entry of entries) {
            const from = entry.reusedFrom ? pc.dim(` (reused: logs of ${entry.reusedFrom})`) : '';
            if (entry.stdout !== undefined) {
              io.stdout.write(
                `${pc.bold(`── ${entry.displayName ?? entry.step} stdout`)}${from}\n${entry.stdout}${entry.stdout.endsWith('\n') || !entry.stdout ? '' : '\n'}`,
              );
            }
            if (entry.stderr !== undefined && (entry.stderr || options.stderr)) {
              io.stdout.write(
                `${pc.bold(`── ${entry.displayName ?? entry.step} stderr`)}${from}\n${entry.stderr}${entry.stderr.endsWith('\n') || !entry.stderr ? '' : '\n'}`,
              );
            }
          }
        } finally {
          await ws.close();
        }
      },
    );
}
