import { resolve } from 'node:path';
import type { Command } from 'commander';
import { SluiceError, isSluiceError } from '@sluice/core';
import { Workspace } from '@sluice/runtime';
import { commandHint, type CommandContext } from '../context.js';

export function register(program: Command, { io }: CommandContext): void {
  program
    .command('init')
    .description('create a workspace in a folder')
    .argument('[dir]', 'the folder', '.')
    .option('--name <name>', 'the workspace name (default: the folder name)')
    .action((dir: string, options: { name?: string }) => {
      let ws: Workspace;
      try {
        ws = Workspace.create(dir, options.name ? { name: options.name } : {});
      } catch (error) {
        if (!isSluiceError(error, 'WORKSPACE_EXISTS')) throw error;
        const folder = resolve(dir);
        throw new SluiceError(
          'WORKSPACE_EXISTS',
          `${folder} is already a Sluice workspace; run pipelines in it with \`${commandHint('run <pipeline.ts>', folder)}\`, or create one in another folder.`,
          { cause: error, details: { dir: folder } },
        );
      }
      io.stdout.write(`Created workspace "${ws.name}" in ${ws.dir}\n`);
      return ws.close();
    });
}
