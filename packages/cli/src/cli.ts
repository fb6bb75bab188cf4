import { Command, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import { SluiceError, isSluiceError } from '@sluice/core';
import {
  Experiment,
  PipelineRun,
  Workspace,
  collectGarbage,
  parseDuration,
  type PipelineRunRecord,
  type StepExplanation,
  type StepRun,
} from '@sluice/runtime';
import {
  PipelineEndpoint,
  createToken,
  entraIdVerifier,
  tokenVerifier,
  listTokens,
  publishPipeline,
  revokeToken,
  serve,
} from '@sluice/publish';
import { drawGraph, duration, status, table, timeline } from './format.js';
import { loadPipeline } from './load-pipeline.js';
import { showProgress } from './progress.js';
import { serveOptions, serveUntilStopped, type ServeFlags } from './serve.js';
import pkg from '../package.json' with { type: 'json' };

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

/** How the CLI prints an error: `error CODE: message`. */
function errorLine(code: string, message: string): string {
  return `${pc.red(`error ${code}`)}: ${message}`;
}

/** An option value that must be a whole number of at least `minimum`. */
function wholeNumber(minimum: number): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(number) || number < minimum) {
      throw new InvalidArgumentError(`Expected a whole number${minimum > 0 ? ` ≥ ${minimum}` : ''}.`);
    }
    return number;
  };
}

/** An option value that must be a duration (`45s`, `90m`, `12h`, `30d`, `2w`); parsed to milliseconds. */
function durationMs(value: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError(isSluiceError(error) ? error.message : String(error));
  }
}

function collectPair(value: string, previous: Record<string, string>): Record<string, string> {
  const index = value.indexOf('=');
  if (index <= 0) throw new InvalidArgumentError(`expected name=value, got "${value}"`);
  return { ...previous, [value.slice(0, index)]: value.slice(index + 1) };
}

async function openWorkspace(options: { workspace?: string }): Promise<Workspace> {
  const ws = options.workspace ? Workspace.open(options.workspace) : Workspace.fromConfig();
  try {
    return await ws.ready();
  } catch (error) {
    await ws.close();
    throw error;
  }
}

function stepRows(steps: StepRun[]): string[][] {
  return steps.map((step) => {
    const record = step.record;
    const note = record.reusedFrom
      ? `from ${record.reusedFrom}`
      : record.status === 'Failed' || record.status === 'Canceled'
        ? (record.error ?? '')
        : '';
    return [record.stepName, status(record.status), duration(record.startedAt, record.endedAt), note];
  });
}

function runSummary(record: PipelineRunRecord): Record<string, unknown> {
  return {
    id: record.id,
    experiment: record.experiment,
    pipeline: record.pipelineName,
    status: record.status,
    createdAt: record.createdAt,
    startedAt: record.startedAt,
    endedAt: record.endedAt,
    parameters: record.parameters,
    tags: record.tags,
    error: record.error,
  };
}

function printExplanations(io: CliIO, run: PipelineRunRecord, explanations: StepExplanation[]): void {
  io.stdout.write(`${pc.bold(`Run ${run.id}`)} (${run.pipelineName}, ${status(run.status)})\n`);
  const width = Math.max(...explanations.map((e) => e.step.length));
  for (const explanation of explanations) {
    const decision =
      explanation.decision === 'REUSED'
        ? pc.cyan('REUSED')
        : explanation.decision === 'RAN'
          ? pc.yellow('RAN   ')
          : pc.dim('NOT RUN');
    let head = `  ${explanation.step.padEnd(width)}  ${decision}`;
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

/** The `sluice` command-line program. */
export function createProgram(
  io: CliIO = { stdout: process.stdout, stderr: process.stderr },
  result: { exitCode: number } = { exitCode: 0 },
): Command {
  const program = new Command('sluice')
    .description('Machine-learning pipelines: run them, reuse what is unchanged, and see why.')
    .version(pkg.version)
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // commander's own usage errors (unknown option or command, missing or invalid argument)
      outputError: (text, write) => write(`${errorLine('OPTION_INVALID', text.replace(/^error: /, ''))}`),
    })
    .exitOverride();
  const workspaceOption = (): Option =>
    new Option('-w, --workspace <dir>', 'the workspace folder (default: found from the current folder up)');

  program
    .command('init')
    .description('create a workspace in a folder')
    .argument('[dir]', 'the folder', '.')
    .option('--name <name>', 'the workspace name (default: the folder name)')
    .action((dir: string, options: { name?: string }) => {
      const ws = Workspace.create(dir, options.name ? { name: options.name } : {});
      io.stdout.write(`Created workspace "${ws.name}" in ${ws.dir}\n`);
      return ws.close();
    });

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
          workspace?: string;
        },
      ) => {
        const ws = await openWorkspace(options);
        try {
          const { pipeline, experimentName } = await loadPipeline(file, ws);
          const experiment = new Experiment(ws, options.experiment ?? experimentName ?? pipeline.name);
          const run = await experiment.submit(pipeline, {
            parameters: options.param,
            regenerateOutputs: Boolean(options.regenerateOutputs),
            continueOnStepFailure: Boolean(options.continueOnStepFailure),
            tags: options.tag,
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
            final = await run.waitForCompletion();
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
            io.stdout.write(`\n${table(['STEP', 'STATUS', 'TIME', ''], stepRows(run.getSteps()))}\n`);
            io.stdout.write(
              `\nRun ${record.id}: ${status(record.status)}  ${duration(record.startedAt, record.endedAt)}${record.error ? `  (${record.error})` : ''}\n`,
            );
            io.stdout.write(pc.dim(`Why each step ran or was reused: sluice explain ${record.id}\n`));
          }
          result.exitCode = final === 'Finished' ? 0 : 1;
        } finally {
          await ws.close();
        }
      },
    );

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
          io.stdout.write('No runs yet. Start one with: sluice run <pipeline.ts>\n');
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
          `\n${pc.bold('Timeline')}\n${timeline(steps.map((step) => ({ name: step.name, status: step.status, startedAt: step.record.startedAt, endedAt: step.record.endedAt })))}\n`,
        );
        io.stdout.write(`\n${table(['STEP', 'STATUS', 'TIME', ''], stepRows(steps))}\n`);
        for (const step of steps) {
          const metrics = step.getMetrics();
          const outputs = step.getOutputs();
          const git = step.record.git;
          if (!Object.keys(metrics).length && !outputs.length && !git) continue;
          io.stdout.write(`\n${pc.bold(step.name)}\n`);
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
            io.stdout.write(
              `  git     ${git.repository} ${git.branch ?? '(detached)'} ${git.commit?.slice(0, 12) ?? ''}${git.dirty ? ' (dirty)' : ''}\n`,
            );
          }
        }
      } finally {
        await ws.close();
      }
    });

  program
    .command('logs')
    .description("print a step's stdout and stderr (every step when none is named)")
    .argument('[run]', 'run id, unique prefix, or "latest"', 'latest')
    .argument('[step]', 'step name')
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
                `${pc.bold(`── ${entry.step} stdout`)}${from}\n${entry.stdout}${entry.stdout.endsWith('\n') || !entry.stdout ? '' : '\n'}`,
              );
            }
            if (entry.stderr !== undefined && (entry.stderr || options.stderr)) {
              io.stdout.write(
                `${pc.bold(`── ${entry.step} stderr`)}${from}\n${entry.stderr}${entry.stderr.endsWith('\n') || !entry.stderr ? '' : '\n'}`,
              );
            }
          }
        } finally {
          await ws.close();
        }
      },
    );

  program
    .command('explain')
    .description('say why each step ran or was reused, naming what changed since the last run of that step')
    .argument('[run]', 'run id, unique prefix, or "latest"', 'latest')
    .argument('[step]', 'only this step')
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

  program
    .command('datasets')
    .description('list registered datasets and their versions')
    .argument('[name]', 'only this dataset')
    .option('--json', 'print JSON')
    .addOption(workspaceOption())
    .action(async (name: string | undefined, options: { json?: boolean; workspace?: string }) => {
      const ws = await openWorkspace(options);
      try {
        const datasets = ws.store.listDatasets().filter((dataset) => !name || dataset.name === name);
        if (name && datasets.length === 0) {
          const known = [...new Set(ws.store.listDatasets().map((dataset) => dataset.name))];
          throw new SluiceError(
            'DATASET_NOT_FOUND',
            `No dataset named "${name}" is registered in this workspace; ${known.length > 0 ? `registered: ${known.join(', ')}` : 'none is registered yet'}. List them with \`sluice datasets\`.`,
            { details: { name } },
          );
        }
        if (options.json) {
          io.stdout.write(
            `${JSON.stringify(
              datasets.map(({ files: _files, ...dataset }) => dataset),
              null,
              2,
            )}\n`,
          );
          return;
        }
        if (datasets.length === 0) {
          io.stdout.write('No datasets registered yet.\n');
          return;
        }
        const rows = datasets.map((dataset) => [
          dataset.name,
          String(dataset.version),
          dataset.kind,
          formatBytes(dataset.bytes),
          dataset.digest.slice(0, 12),
          dataset.createdAt.replace('T', ' ').slice(0, 19),
          dataset.sourceStepRun ? `from ${dataset.sourceStepRun}` : dataset.description,
        ]);
        io.stdout.write(`${table(['NAME', 'VERSION', 'KIND', 'SIZE', 'CONTENT', 'REGISTERED', ''], rows)}\n`);
      } finally {
        await ws.close();
      }
    });

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
    .option('--json', 'print JSON')
    .addOption(workspaceOption())
    .action(
      async (options: {
        keepLast: number;
        olderThan: number;
        dryRun?: boolean;
        json?: boolean;
        workspace?: string;
      }) => {
        const ws = await openWorkspace(options);
        try {
          const report = await collectGarbage(ws, {
            keepLast: options.keepLast,
            olderThanMs: options.olderThan,
            dryRun: Boolean(options.dryRun),
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
            `${verb} ${report.deleted.length} item${report.deleted.length === 1 ? '' : 's'}, ${formatBytes(report.freedBytes)}; kept the outputs of ${report.retainedRuns} run${report.retainedRuns === 1 ? '' : 's'}, registered datasets and the latest result of every step.\n`,
          );
        } finally {
          await ws.close();
        }
      },
    );

  program
    .command('publish')
    .description('publish a pipeline module as a versioned pipeline (and optionally an endpoint version)')
    .argument('<pipeline>', 'a module whose default export is a Pipeline or ({ workspace }) => Pipeline')
    .requiredOption('--name <name>', 'the published pipeline name')
    .option('--pipeline-version <version>', 'a version label, e.g. 1.0')
    .option('--description <text>', 'what it does')
    .option(
      '--endpoint <name>',
      'also add it to this pipeline endpoint (created if missing) as a new version',
    )
    .option('--default', 'with --endpoint: make it the default version')
    .option('--json', 'print JSON')
    .addOption(workspaceOption())
    .action(
      async (
        file: string,
        options: {
          name: string;
          pipelineVersion?: string;
          description?: string;
          endpoint?: string;
          default?: boolean;
          json?: boolean;
          workspace?: string;
        },
      ) => {
        const ws = await openWorkspace(options);
        try {
          const { pipeline } = await loadPipeline(file, ws);
          const published = await publishPipeline(ws, pipeline, {
            name: options.name,
            ...(options.pipelineVersion ? { version: options.pipelineVersion } : {}),
            ...(options.description ? { description: options.description } : {}),
          });
          let endpointVersion: string | undefined;
          if (options.endpoint) {
            const existing = PipelineEndpoint.list(ws).find((endpoint) => endpoint.name === options.endpoint);
            if (!existing) {
              await PipelineEndpoint.publish(ws, { name: options.endpoint, pipeline: published });
              endpointVersion = '0';
            } else {
              endpointVersion = options.default ? existing.addDefault(published) : existing.add(published);
            }
          }
          const result = {
            id: published.id,
            name: published.name,
            version: published.version,
            endpoint: published.endpoint,
            ...(options.endpoint ? { pipelineEndpoint: options.endpoint, endpointVersion } : {}),
          };
          if (options.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          else {
            io.stdout.write(
              `Published ${published.name}${published.version ? ` ${published.version}` : ''} as ${published.id}\n`,
            );
            io.stdout.write(`  REST: POST ${published.endpoint}\n`);
            if (options.endpoint)
              io.stdout.write(
                `  endpoint ${options.endpoint}, version ${endpointVersion}: POST /endpoints/${options.endpoint}\n`,
              );
          }
        } finally {
          await ws.close();
        }
      },
    );

  const token = program.command('token').description('bearer tokens for the REST server');
  token
    .command('create')
    .description('create a token (shown once; only a hash of it is kept)')
    .addOption(
      new Option('--scope <scope>', "'read' (GET requests) or 'submit' (GET and POST)")
        .choices(['read', 'submit'])
        .makeOptionMandatory(),
    )
    .option('--expires <age>', 'lifetime, e.g. 90m, 12h, 30d (default: no expiry)', (value) => {
      durationMs(value);
      return value;
    })
    .option('--description <text>', 'what it is for')
    .option('--json', 'print JSON')
    .addOption(workspaceOption())
    .action(
      async (options: {
        scope: 'read' | 'submit';
        expires?: string;
        description?: string;
        json?: boolean;
        workspace?: string;
      }) => {
        const ws = await openWorkspace(options);
        try {
          const created = createToken(ws, {
            scope: options.scope,
            ...(options.expires ? { expiresIn: options.expires } : {}),
            ...(options.description ? { description: options.description } : {}),
          });
          if (options.json) io.stdout.write(`${JSON.stringify(created, null, 2)}\n`);
          else {
            io.stdout.write(`${created.token}\n`);
            io.stderr.write(
              `token ${created.id}, scope ${created.scope}${created.expiresAt ? `, expires ${created.expiresAt}` : ''}; it is shown only now.\n`,
            );
          }
        } finally {
          await ws.close();
        }
      },
    );
  token
    .command('list')
    .description('list tokens (never their secrets)')
    .option('--json', 'print JSON')
    .addOption(workspaceOption())
    .action(async (options: { json?: boolean; workspace?: string }) => {
      const ws = await openWorkspace(options);
      try {
        const tokens = listTokens(ws);
        if (options.json) io.stdout.write(`${JSON.stringify(tokens, null, 2)}\n`);
        else if (tokens.length === 0)
          io.stdout.write('No tokens yet. Create one with: sluice token create --scope submit\n');
        else {
          const rows = tokens.map((entry) => [
            entry.id,
            entry.scope,
            entry.revokedAt
              ? 'revoked'
              : entry.expiresAt && Date.parse(entry.expiresAt) < Date.now()
                ? 'expired'
                : 'active',
            entry.expiresAt ?? 'never',
            entry.description ?? '',
          ]);
          io.stdout.write(`${table(['ID', 'SCOPE', 'STATE', 'EXPIRES', ''], rows)}\n`);
        }
      } finally {
        await ws.close();
      }
    });
  token
    .command('revoke')
    .description('revoke a token by id')
    .argument('<id>', 'the token id (from sluice token list)')
    .addOption(workspaceOption())
    .action(async (id: string, options: { workspace?: string }) => {
      const ws = await openWorkspace(options);
      try {
        revokeToken(ws, id);
        io.stdout.write(`Revoked token ${id}.\n`);
      } finally {
        await ws.close();
      }
    });

  program
    .command('serve')
    .description(
      'serve published pipelines and endpoints over REST (bearer tokens required), and fire schedules',
    )
    .option('--port <port>', 'the port (0 picks a free one)', '8765')
    .option('--host <host>', 'the address to listen on', '127.0.0.1')
    .option('--concurrency <n>', 'how many submitted runs execute at once', '2')
    .option(
      '--public-url <url>',
      'the base of the URLs in answers, e.g. https://sluice.example.com (default: the bound address)',
    )
    .option(
      '--grace-period <seconds>',
      'on SIGTERM or Ctrl-C, how long running steps may finish before they are canceled',
      '30',
    )
    .option('--entra-issuer <url>', 'also accept Microsoft Entra ID access tokens from this issuer')
    .option('--entra-audience <id>', 'the audience those tokens must carry (application ID URI or client id)')
    .option('--entra-jwks-uri <url>', "the issuer's JSON Web Key Set URL")
    .addOption(workspaceOption())
    .action(
      async (
        options: ServeFlags & {
          entraIssuer?: string;
          entraAudience?: string;
          entraJwksUri?: string;
          workspace?: string;
        },
      ) => {
        const served = serveOptions(options);
        const entra = [options.entraIssuer, options.entraAudience, options.entraJwksUri];
        if (entra.some(Boolean) && !entra.every(Boolean)) {
          throw new SluiceError(
            'OPTION_INVALID',
            'Entra ID tokens need all three of --entra-issuer, --entra-audience and --entra-jwks-uri.',
          );
        }
        const ws = await openWorkspace(options);
        try {
          const server = await serve({
            workspace: ws,
            ...(options.entraIssuer
              ? {
                  auth: [
                    tokenVerifier(ws),
                    entraIdVerifier({
                      issuer: options.entraIssuer,
                      audience: options.entraAudience!,
                      jwksUri: options.entraJwksUri!,
                    }),
                  ],
                }
              : {}),
            ...served,
          });
          const publicUrl = server.publicUrl === server.url ? '' : ` (public URL ${server.publicUrl})`;
          io.stdout.write(`Serving workspace "${ws.name}" at ${server.url}${publicUrl} (Ctrl-C to stop)\n`);
          await serveUntilStopped(server, io, served.shutdownGraceMs!);
          io.stdout.write('Stopped.\n');
        } finally {
          // last: nothing of the server uses the store any more
          await ws.close();
        }
      },
    );

  // a usage error ends with where to read the usage of the command at hand
  const withSubcommands = (command: Command): Command[] => [
    command,
    ...command.commands.flatMap(withSubcommands),
  ];
  for (const command of withSubcommands(program)) {
    const path: string[] = [];
    for (let at: Command | null = command; at; at = at.parent) path.unshift(at.name());
    command.showHelpAfterError(`Run \`${path.join(' ')} --help\` for usage.`);
  }
  return program;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Run the CLI; a user's mistake is printed as `error CODE: message`, never as a stack trace. */
export async function main(argv: string[] = process.argv, io?: CliIO): Promise<number> {
  const out = io ?? { stdout: process.stdout, stderr: process.stderr };
  const result = { exitCode: 0 };
  const program = createProgram(out, result);
  try {
    await program.parseAsync(argv);
    return result.exitCode;
  } catch (error) {
    const commanderCode = (error as { code?: string }).code;
    if (commanderCode?.startsWith('commander.')) {
      return commanderCode === 'commander.helpDisplayed' || commanderCode === 'commander.version' ? 0 : 2;
    }
    if (isSluiceError(error)) {
      out.stderr.write(`${errorLine(error.code, error.message)}\n`);
      return 2;
    }
    out.stderr.write(`${pc.red('unexpected error')}: ${(error as Error)?.stack ?? String(error)}\n`);
    return 1;
  }
}
