import type { Command } from 'commander';
import { SluiceError } from '@sluice/core';
import { commandHint, openWorkspace, workspaceOption, type CommandContext } from '../context.js';
import { formatBytes, table } from '../format.js';

export function register(program: Command, { io }: CommandContext): void {
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
            `No dataset named "${name}" is registered in this workspace; ${known.length > 0 ? `registered: ${known.join(', ')}` : 'none is registered yet'}. List them with \`${commandHint('datasets', options.workspace && ws.dir)}\`.`,
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
        io.stdout.write(
          `${table(['NAME', 'VERSION', 'KIND', 'SIZE', 'CONTENT', 'REGISTERED', 'DESCRIPTION'], rows)}\n`,
        );
      } finally {
        await ws.close();
      }
    });
}
