import { isAbsolute } from 'node:path';
import type { Command } from 'commander';
import pc from 'picocolors';
import { PipelineRun, stepRunEnvironment } from '@sluice/runtime';
import { openWorkspace, workspaceOption, type CommandContext } from '../context.js';
import { drawGraph, duration, status, table, timeline } from '../format.js';
import { runSummary, stepRows } from '../runs.js';

/** How many of an environment's locked packages the text view names (all are in --json). */
const LOCK_SHOWN = 12;

export function register(program: Command, { io }: CommandContext): void {
  program
    .command('show')
    .description('show a run: its steps, graph, timeline, metrics and outputs')
    .argument('[run]', 'run id, unique prefix, or "latest"', 'latest')
    .option('--json', 'print JSON')
    .addOption(workspaceOption())
    .action(async (id: string, options: { json?: boolean; workspace?: string }) => {
      const ws = await openWorkspace(options);
      try {
        const run = PipelineRun.get(ws, id);
        const record = run.record;
        const steps = run.getSteps();
        if (options.json) {
          io.stdout.write(
            `${JSON.stringify(
              {
                ...runSummary(record),
                graph: run.getGraph(),
                steps: steps.map((step) => ({
                  ...step.record,
                  environment: stepRunEnvironment(ws, step.id) ?? null,
                  metrics: step.getMetrics(),
                  outputs: step.getOutputs().map((output) => ({
                    ...output.record,
                    ...(output.destination ? { published: output.destination } : {}),
                  })),
                })),
              },
              null,
              2,
            )}\n`,
          );
          return;
        }
        io.stdout.write(`${pc.bold(`Run ${record.id}`)}  ${status(record.status)}\n`);
        io.stdout.write(`  experiment  ${record.experiment}\n  pipeline    ${record.pipelineName}\n`);
        io.stdout.write(
          `  created     ${record.createdAt}\n  time        ${duration(record.startedAt, record.endedAt)}\n`,
        );
        if (Object.keys(record.parameters).length) {
          io.stdout.write(
            `  parameters  ${Object.entries(record.parameters)
              .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
              .join(' ')}\n`,
          );
        }
        if (Object.keys(record.tags).length) {
          io.stdout.write(
            `  tags        ${Object.entries(record.tags)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')}\n`,
          );
        }
        if (record.error) io.stdout.write(`  error       ${pc.red(record.error)}\n`);
        const graph = run.getGraph();
        io.stdout.write(`\n${pc.bold('Graph')}\n${drawGraph(graph, graph.statuses)}\n`);
        io.stdout.write(
          `\n${pc.bold('Timeline')}\n${timeline(steps.map((step) => ({ name: step.displayName, status: step.status, startedAt: step.record.startedAt, endedAt: step.record.endedAt })))}\n`,
        );
        io.stdout.write(`\n${table(['STEP', 'STATUS', 'TIME', 'NOTE'], stepRows(steps))}\n`);
        for (const step of steps) {
          const metrics = step.getMetrics();
          const outputs = step.getOutputs();
          const git = step.record.git;
          const job = step.record.remoteJob;
          const environment = stepRunEnvironment(ws, step.id);
          if (!Object.keys(metrics).length && !outputs.length && !git && !job && !environment) continue;
          io.stdout.write(`\n${pc.bold(step.displayName)}\n`);
          if (job) {
            const adopted =
              job.origin !== step.record.id ? ` (re-attached; submitted by step run ${job.origin})` : '';
            io.stdout.write(`  job     ${job.id} on ${job.target}${pc.dim(adopted)}\n`);
          }
          if (environment) {
            const { packages, python } = environment.lock;
            const shown = packages.slice(0, LOCK_SHOWN).join(' ');
            const more =
              packages.length > LOCK_SHOWN ? pc.dim(` and ${packages.length - LOCK_SHOWN} more`) : '';
            io.stdout.write(
              `  env     ${environment.name}:${environment.version} ${pc.dim(`(Python ${python}, ${environment.key.slice(0, 12)})`)}\n  lock    ${shown || pc.dim('(no packages)')}${more}\n`,
            );
          }
          for (const [name, value] of Object.entries(metrics))
            io.stdout.write(`  metric  ${name} = ${JSON.stringify(value)}\n`);
          for (const output of outputs) {
            io.stdout.write(
              `  output  ${output.name} → ${output.datastoreName}:${output.pathOnDatastore} ${pc.dim(`(${output.record.bytes} bytes, ${output.record.digest.slice(0, 12)})`)}${output.record.deletedAt ? pc.yellow(' (deleted by sluice gc)') : ''}\n`,
            );
            const published = output.destination;
            if (published) {
              io.stdout.write(
                `          published to ${published.datastore}:${published.path} ${published.current ? pc.dim('(holds this output)') : pc.yellow(`(since replaced by ${published.heldBy?.stepRunId ?? 'another run'}${published.heldBy ? ` at ${published.heldBy.publishedAt}` : ''})`)}\n`,
              );
            }
          }
          if (git) {
            // the checkout's folder; its remote, when it has one, on a line of its own
            const folder = git.folder ?? (isAbsolute(git.repository) ? git.repository : undefined);
            io.stdout.write(
              `  git     ${[folder, git.branch ?? '(detached)', git.commit?.slice(0, 12)].filter(Boolean).join(' ')}${git.dirty ? ' (dirty)' : ''}\n`,
            );
            if (git.repository !== folder) io.stdout.write(`  origin  ${git.repository}\n`);
          }
        }
      } finally {
        await ws.close();
      }
    });
}
