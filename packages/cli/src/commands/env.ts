import type { Command } from 'commander';
import pc from 'picocolors';
import { listEnvironments, materialiseEnvironment, pruneEnvironments } from '@sluice/runtime';
import { openWorkspace, workspaceOption, type CommandContext } from '../context.js';
import { formatBytes, table } from '../format.js';

export function register(program: Command, { io }: CommandContext): void {
  const env = program
    .command('env')
    .description("the workspace's built Python environments: list, build ahead of a run, prune");

  env
    .command('list')
    .description('list the built environments, their locks and how many step runs used them')
    .option('--json', 'print JSON')
    .addOption(workspaceOption())
    .action(async (options: { json?: boolean; workspace?: string }) => {
      const ws = await openWorkspace(options);
      try {
        const environments = await listEnvironments(ws);
        if (options.json) {
          io.stdout.write(`${JSON.stringify(environments, null, 2)}\n`);
          return;
        }
        if (environments.length === 0) {
          io.stdout.write('No built environments; a step builds its environment when it first needs it.\n');
          return;
        }
        const rows = environments.map((entry) => [
          entry.key.slice(0, 12),
          `${entry.name}:${entry.version}`,
          entry.lock.python,
          entry.lock.packages.join(' ') || pc.dim('(none)'),
          String(entry.uses),
          entry.builtAt,
        ]);
        io.stdout.write(`${table(['KEY', 'ENVIRONMENT', 'PYTHON', 'LOCK', 'USES', 'BUILT'], rows)}\n`);
      } finally {
        await ws.close();
      }
    });

  env
    .command('build')
    .description('build a registered environment now (e.g. in a Dockerfile or on a cluster login node)')
    .argument('<name>', 'the environment name')
    .argument('[version]', 'its version (default: the latest registered)')
    .option('--rebuild', 'build it again even when it is built (resolves unpinned packages anew)')
    .option('--json', 'print JSON')
    .addOption(workspaceOption())
    .action(
      async (
        name: string,
        version: string | undefined,
        options: { rebuild?: boolean; json?: boolean; workspace?: string },
      ) => {
        const ws = await openWorkspace(options);
        try {
          const environment = ws.getEnvironment(name, version);
          const built = await materialiseEnvironment(ws, environment, {
            ...(options.rebuild ? { rebuild: true } : {}),
            // progress on stderr, so --json output stays parseable
            onProgress: (line, kind) =>
              io.stderr.write(kind === 'status' ? `${line}\n` : pc.dim(`  ${line}\n`)),
          });
          if (options.json) {
            io.stdout.write(`${JSON.stringify(built, null, 2)}\n`);
            return;
          }
          const what = built.inherit
            ? `inherits ${built.interpreter} as it is (nothing to build)`
            : built.built
              ? `built in ${built.path}`
              : `already built in ${built.path}`;
          io.stdout.write(
            `Environment ${built.name}:${built.version} ${what}\n  python  ${built.lock.python}\n  lock    ${built.lock.packages.join(' ') || '(none)'}\n`,
          );
        } finally {
          await ws.close();
        }
      },
    );

  env
    .command('prune')
    .description('remove built environments no run used, and unfinished builds (--all: all but those in use)')
    .option('--all', 'also remove environments runs used (never one a running run uses)')
    .option('--dry-run', 'show what would be removed, remove nothing')
    .option('--json', 'print JSON')
    .addOption(workspaceOption())
    .action(async (options: { all?: boolean; dryRun?: boolean; json?: boolean; workspace?: string }) => {
      const ws = await openWorkspace(options);
      try {
        const removed = await pruneEnvironments(ws, {
          all: Boolean(options.all),
          dryRun: Boolean(options.dryRun),
        });
        if (options.json) {
          io.stdout.write(`${JSON.stringify(removed, null, 2)}\n`);
          return;
        }
        if (removed.length > 0) {
          const rows = removed.map((item) => [item.path, formatBytes(item.bytes), item.reason]);
          io.stdout.write(`${table(['FOLDER', 'SIZE', 'WHY'], rows)}\n\n`);
        }
        const bytes = removed.reduce((sum, item) => sum + item.bytes, 0);
        io.stdout.write(
          `${options.dryRun ? 'Would remove' : 'Removed'} ${removed.length} folder${removed.length === 1 ? '' : 's'}, ${formatBytes(bytes)}.\n`,
        );
      } finally {
        await ws.close();
      }
    });
}
