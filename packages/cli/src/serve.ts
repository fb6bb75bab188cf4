import { SluiceError } from '@sluice/core';
import { checkServeOptions, type ServeOptions, type SluiceServer } from '@sluice/publish';

/** The options of `sluice serve` as typed. */
export interface ServeFlags {
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

/** Check `sluice serve`'s options (before anything is opened) and turn them into `serve()` options. */
export function serveOptions(
  flags: ServeFlags,
): Pick<ServeOptions, 'port' | 'host' | 'concurrency' | 'publicUrl' | 'shutdownGraceMs'> {
  const port = wholeNumber(
    '--port',
    flags.port,
    0,
    65_535,
    'a whole number from 0 to 65535 (0 picks a free port)',
  );
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
