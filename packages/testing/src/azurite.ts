import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** The well-known development account every Azurite instance accepts. */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface StartAzuriteOptions {
  /** Where Azurite keeps its data; a new temporary folder (removed by `stop()`) when not given. */
  location?: string;
  /** How long to wait for the service to answer (default 30 s). */
  timeoutMs?: number;
}

export interface AzuriteInstance {
  /** e.g. `http://127.0.0.1:53121/devstoreaccount1` (path-style account URL). */
  readonly blobEndpoint: string;
  readonly connectionString: string;
  readonly accountName: string;
  readonly accountKey: string;
  /** The folder holding Azurite's data. */
  readonly location: string;
  /** Stop the service and remove its data folder (when it was created by `startAzurite`). */
  stop(): Promise<void>;
}

const AZURITE_VERSION_PIN = '3.35.0';

/** The path of Azurite's blob service entry point (`azurite-blob`), from the installed `azurite` package. */
export function azuriteBlobMain(): string {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('azurite/package.json');
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: Record<string, string> };
  return resolve(dirname(manifest), pkg.bin?.['azurite-blob'] ?? 'dist/src/blob/main.js');
}

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolvePort(address.port);
        else reject(new Error('could not find a free port'));
      });
    });
  });
}

/**
 * Start Microsoft's storage emulator (the Azurite blob service, from the `azurite` npm package, pinned to
 * 3.35.0) on 127.0.0.1 and a free port. Resolves once the service answers a signed List Containers request.
 */
export async function startAzurite(options: StartAzuriteOptions = {}): Promise<AzuriteInstance> {
  const ownLocation = options.location === undefined;
  const location = options.location
    ? resolve(options.location)
    : await mkdtemp(join(tmpdir(), 'sluice-azurite-'));
  await mkdir(location, { recursive: true });
  const timeoutMs = options.timeoutMs ?? 30_000;
  let lastError: unknown;
  // the port is free when found but could be taken before Azurite binds it: try a few ports
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    try {
      const child = await launch(port, location, timeoutMs);
      return instance(child, port, location, ownLocation);
    } catch (error) {
      lastError = error;
      if (!/EADDRINUSE/.test(String((error as Error).message))) break;
    }
  }
  if (ownLocation) await rm(location, { recursive: true, force: true });
  throw lastError;
}

async function launch(port: number, location: string, timeoutMs: number): Promise<ChildProcess> {
  const args = [
    azuriteBlobMain(),
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(port),
    '--location',
    location,
    '--skipApiVersionCheck',
    '--disableTelemetry',
    '--loose',
    '--silent',
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
  let output = '';
  const collect = (chunk: Buffer): void => {
    if (output.length < 20_000) output += chunk.toString();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let exited: { code: number | null; signal: string | null } | undefined;
  child.once('exit', (code, signal) => {
    exited = { code, signal };
  });
  const deadline = Date.now() + timeoutMs;
  const fail = async (reason: string): Promise<never> => {
    await terminate(child);
    throw new Error(
      `Azurite (azurite@${AZURITE_VERSION_PIN}, blob service on 127.0.0.1:${port}) ${reason}.${output ? `\nIts output:\n${output.trim()}` : ''}`,
    );
  };
  for (;;) {
    if (exited) return fail(`exited early (code ${exited.code}, signal ${exited.signal})`);
    if (Date.now() > deadline) return fail(`did not answer within ${timeoutMs} ms`);
    if (await accepts(port)) {
      const status = await listContainers(port).catch(() => undefined);
      if (status === 200) break;
    }
    await new Promise((next) => setTimeout(next, 100));
  }
  child.stdout!.removeListener('data', collect);
  child.stderr!.removeListener('data', collect);
  // keep draining so a chatty child never blocks on a full pipe
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

function instance(
  child: ChildProcess,
  port: number,
  location: string,
  ownLocation: boolean,
): AzuriteInstance {
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT_NAME}`;
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  let stopped: Promise<void> | undefined;
  return {
    blobEndpoint,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT_NAME};` +
      `AccountKey=${AZURITE_ACCOUNT_KEY};BlobEndpoint=${blobEndpoint};`,
    accountName: AZURITE_ACCOUNT_NAME,
    accountKey: AZURITE_ACCOUNT_KEY,
    location,
    stop() {
      stopped ??= (async () => {
        process.removeListener('exit', killOnExit);
        await terminate(child);
        if (ownLocation) await rm(location, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/** Ask politely, then insist. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await gone;
  clearTimeout(timer);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      done(false);
    });
    socket.once('error', () => done(false));
  });
}

/** A real, Shared Key-signed List Containers request; resolves with the HTTP status. */
async function listContainers(port: number): Promise<number> {
  const date = new Date().toUTCString();
  const version = '2021-08-06';
  const canonicalHeaders = `x-ms-date:${date}\nx-ms-version:${version}\n`;
  const canonicalResource = `/${AZURITE_ACCOUNT_NAME}/${AZURITE_ACCOUNT_NAME}\ncomp:list`;
  // VERB, then 11 standard headers (all empty for this GET), then the canonical headers and resource
  const stringToSign = `GET\n${'\n'.repeat(11)}${canonicalHeaders}${canonicalResource}`;
  const signature = createHmac('sha256', Buffer.from(AZURITE_ACCOUNT_KEY, 'base64'))
    .update(stringToSign, 'utf8')
    .digest('base64');
  const response = await fetch(`http://127.0.0.1:${port}/${AZURITE_ACCOUNT_NAME}?comp=list`, {
    headers: {
      'x-ms-date': date,
      'x-ms-version': version,
      authorization: `SharedKey ${AZURITE_ACCOUNT_NAME}:${signature}`,
    },
    signal: AbortSignal.timeout(5_000),
  });
  await response.arrayBuffer();
  return response.status;
}

/**
 * The container and blob path a Hadoop address (`wasbs://`, `wasb://`, `abfss://`
 * `<container>@<account>.<blob|dfs>.core.windows.net/<path>`) names on an Azurite instance, as a cluster
 * whose storage settings point that account at the emulator would read it. The path is returned as written
 * (Hadoop paths are not percent-encoded). Throws for another account or a malformed address.
 */
export function azuriteAddress(
  azurite: Pick<AzuriteInstance, 'accountName'>,
  address: string,
): { container: string; path: string } {
  const match = /^(?:wasbs?|abfss?):\/\/([^@/]+)@([^/]+)(\/.*)?$/.exec(address);
  if (!match) throw new Error(`${address} is not a wasbs://, wasb:// or abfss:// address`);
  const [, container, host, path] = match;
  const account = azurite.accountName.toLowerCase();
  if (host !== `${account}.blob.core.windows.net` && host !== `${account}.dfs.core.windows.net`) {
    throw new Error(`${address} names ${host}, not the emulator's account ${account}`);
  }
  return { container: container!, path: (path ?? '/').slice(1) };
}
