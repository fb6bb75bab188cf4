import type { Command } from 'commander';
import { Workspace } from '@sluice/runtime';
import type { CommandContext } from '../context.js';

export function register(program: Command, { io }: CommandContext): void {
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
}
