import type { Command } from 'commander';
import { SluiceError } from '@sluice/core';
import type * as Publish from '@sluice/publish';
import type { ServeOptions, SluiceServer } from '@sluice/publish';
import {
  loadPublish,
  openWorkspace,
  studioIfInstalled,
  workspaceOption,
  type CommandContext,
} from '../context.js';

/** The options of `sluice serve` as typed. */
interface ServeFlags {
  port: string;
  host: string;
  concurrency: string;
  publicUrl?: string;
  gracePeriod: string;
}

function invalid(flag: string, value: string, expected: string): SluiceError {
  return new SluiceError('OPTION_INVALID', `${flag} must be ${expected}; got ${JSON.stringify(value)}.`, {
    details: { option: flag, value },
  });
}

function wholeNumber(flag: string, value: string, min: number, max: number, expected: string): number {
  const number = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!(number >= min && number <= max)) throw invalid(flag, value, expected);
  return number;
}

/** A `--port` value: a whole number from 0 to 65535 (0 picks a free port). */
export function portNumber(value: string): number {
  return wholeNumber('--port', value, 0, 65_535, 'a whole number from 0 to 65535 (0 picks a free port)');
}

/** Check `sluice serve`'s options (before anything is opened) and turn them into `serve()` options. */
function serveOptions(
  flags: ServeFlags,
  { checkServeOptions }: typeof Publish,
): Pick<ServeOptions, 'port' | 'host' | 'concurrency' | 'publicUrl' | 'shutdownGraceMs'> {
  const port = portNumber(flags.port);
  const concurrency = wholeNumber(
    '--concurrency',
    flags.concurrency,
    1,
    1_000,
    'a whole number from 1 to 1000',
  );
  const grace = /^\s*\d+(\.\d+)?\s*$/.test(flags.gracePeriod) ? Number(flags.gracePeriod) : Number.NaN;
  if (!(grace >= 0 && grace <= 86_400)) {
    throw invalid('--grace-period', flags.gracePeriod, 'a number of seconds from 0 to 86400');
  }
  const options = {
    port,
    host: flags.host,
    concurrency,
    shutdownGraceMs: Math.round(grace * 1000),
    ...(flags.publicUrl === undefined ? {} : { publicUrl: flags.publicUrl }),
  };
  checkServeOptions(options);
  return options;
}

/**
 * Serve until SIGINT or SIGTERM, then shut the server down gracefully: running steps get the grace period
 * to finish; a second signal cancels them at once.
 */
export async function serveUntilStopped(
  server: SluiceServer,
  io: { stdout: NodeJS.WritableStream },
  graceMs: number,
): Promise<void> {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  let received = 0;
  let stop!: () => void;
  const stopping = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = (): void => {
    received += 1;
    if (received === 1) {
      io.stdout.write(
        `Stopping: running steps have ${graceMs / 1000} s to finish, queued runs wait for the next start (Ctrl-C again to cancel the running steps now)…\n`,
      );
      stop();
    } else if (received === 2) {
      io.stdout.write('Canceling the running steps now…\n');
      void server.close({ graceMs: 0 });
    }
  };
  for (const signal of signals) process.on(signal, onSignal);
  try {
    await stopping;
    await server.close();
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
  }
}

export function register(program: Command, { io }: CommandContext): void {
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
        const publish = await loadPublish('serve');
        const { entraIdVerifier, serve, tokenVerifier } = publish;
        const served = serveOptions(options, publish);
        const entra = [options.entraIssuer, options.entraAudience, options.entraJwksUri];
        if (entra.some(Boolean) && !entra.every(Boolean)) {
          throw new SluiceError(
            'OPTION_INVALID',
            'Entra ID tokens need all three of --entra-issuer, --entra-audience and --entra-jwks-uri.',
          );
        }
        const studio = await studioIfInstalled();
        const ws = await openWorkspace(options);
        try {
          const server = await serve({
            workspace: ws,
            ...(studio ? { studio: studio.studioAssets() } : {}),
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
          if (studio) io.stdout.write(`The studio is at ${server.publicUrl}/ (sign in with a token)\n`);
          await serveUntilStopped(server, io, served.shutdownGraceMs!);
          io.stdout.write('Stopped.\n');
        } finally {
          // last: nothing of the server uses the store any more
          await ws.close();
        }
      },
    );
}
