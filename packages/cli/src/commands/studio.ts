import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Command } from 'commander';
import type * as Publish from '@sluice/publish';
import type { SluiceServer } from '@sluice/publish';
import type { Workspace } from '@sluice/runtime';
import {
  loadPublish,
  loadStudio,
  openWorkspace,
  workspaceOption,
  type CliIO,
  type CommandContext,
  type StudioPackage,
} from '../context.js';
import { portNumber, serveUntilStopped } from './serve.js';

/** The port `sluice studio` listens on unless told otherwise. */
export const DEFAULT_STUDIO_PORT = 7270;
const GRACE_MS = 30_000;

/** The program that opens a link in the browser on this platform, when one is on the PATH. */
export function findOpener(
  platform: NodeJS.Platform = process.platform,
  path: string = process.env.PATH ?? '',
): { command: string; args: string[] } | undefined {
  if (platform === 'win32') return { command: 'cmd', args: ['/c', 'start', '""'] };
  const name = platform === 'darwin' ? 'open' : 'xdg-open';
  for (const folder of path.split(delimiter)) {
    if (!folder) continue;
    try {
      accessSync(join(folder, name), constants.X_OK);
      return { command: join(folder, name), args: [] };
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/** Open a link with the platform's opener; says so when there is none. */
function openLink(link: string, io: CliIO): void {
  const opener = findOpener();
  if (!opener) {
    io.stdout.write(
      `No program to open a browser was found (${process.platform === 'darwin' ? 'open' : 'xdg-open'}); open the link yourself.\n`,
    );
    return;
  }
  const child = spawn(opener.command, [...opener.args, link], { detached: true, stdio: 'ignore' });
  child.once('error', () => io.stdout.write('The browser could not be opened; open the link yourself.\n'));
  child.unref();
  io.stdout.write('Opening the studio in your browser…\n');
}

/**
 * Serve a workspace with the studio on 127.0.0.1, and the one-time sign-in link to print: a link signs one
 * browser in with the `submit` scope, once, within 10 minutes.
 */
export async function startStudio(
  ws: Workspace,
  options: { port: number },
  packages: { publish: typeof Publish; studio: StudioPackage },
): Promise<{ server: SluiceServer; link: string }> {
  const server = await packages.publish.serve({
    workspace: ws,
    port: options.port,
    host: '127.0.0.1',
    shutdownGraceMs: GRACE_MS,
    studio: packages.studio.studioAssets(),
  });
  return { server, link: `${server.url}/login?code=${server.loginCode()}` };
}

export function register(program: Command, { io }: CommandContext): void {
  program
    .command('studio')
    .description(
      'open the web studio on this workspace: runs, graphs, logs, metrics, datasets (127.0.0.1 only)',
    )
    .option('--port <port>', 'the port (0 picks a free one)', String(DEFAULT_STUDIO_PORT))
    .option('--open', 'open the sign-in link in the browser')
    .addOption(workspaceOption())
    .action(async (options: { port: string; open?: boolean; workspace?: string }) => {
      const port = portNumber(options.port);
      const publish = await loadPublish('studio');
      const studio = await loadStudio('studio');
      const ws = await openWorkspace(options);
      try {
        const { server, link } = await startStudio(ws, { port }, { publish, studio });
        io.stdout.write(`Serving workspace "${ws.name}" with the studio at ${server.url} (Ctrl-C to stop)\n`);
        io.stdout.write(`Studio: ${link}\n`);
        io.stdout.write('The link signs one browser in, once, within 10 minutes.\n');
        if (options.open) openLink(link, io);
        await serveUntilStopped(server, io, GRACE_MS);
        io.stdout.write('Stopped.\n');
      } finally {
        await ws.close();
      }
    });
}
