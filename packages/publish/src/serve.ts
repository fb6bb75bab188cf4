import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { SluiceError } from '@sluice/core';
import {
  createRequestHandler,
  errorResponse,
  publicOrigin,
  type RequestHandler,
  type RequestHandlerOptions,
} from './handler.js';
import { httpStatusOf } from './http-status.js';
import { DEFAULT_SHUTDOWN_GRACE_MS, type CloseOptions } from './queue.js';

export interface ServeOptions extends RequestHandlerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Loopback only unless told otherwise. */
  host?: string;
  /**
   * The base of every URL in answers (`Location`, `Url`), e.g. `https://sluice.example.com`: http or
   * https, a host and an optional port, no path (default: the bound address). Never taken from a
   * request's `Host` header.
   */
  publicUrl?: string;
  /** How long `close()` lets running steps finish before canceling them, in milliseconds (default 30 000). */
  shutdownGraceMs?: number;
}

export interface SluiceServer {
  /** Where the server listens, e.g. `http://127.0.0.1:4321`. */
  url: string;
  /** The base of the URLs in its answers: `publicUrl`, or `url`. */
  publicUrl: string;
  /**
   * Shut down gracefully: stop accepting connections (a request on a connection already open is answered
   * 503), stop firing schedules and taking queued runs, let running steps finish within `graceMs` (default
   * `shutdownGraceMs`), then cancel what still runs (recorded Canceled, and queued again for the next
   * server, which reuses the steps that finished). Resolves once nothing of the server touches the
   * workspace any more, so the workspace can be closed. A second call with a shorter `graceMs` (0: now)
   * shortens the grace; every call resolves at the same time.
   */
  close(options?: CloseOptions): Promise<void>;
  /**
   * A single-use code for `GET /login?code=…`, good for 10 minutes: it signs a browser in to the studio
   * with the `submit` scope. `sluice studio` prints `${url}/login?code=${loginCode()}`.
   */
  loginCode(): string;
}

/** Slow clients are cut off: headers must arrive within 10 s, a whole request within 30 s. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** How long a closing server waits for requests under way to be answered before closing connections. */
const ANSWER_WAIT_MS = 2_000;
/** Methods a Fetch `Request` cannot carry; the API has no use for them. */
const UNSUPPORTED_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
const HOSTNAME =
  /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

function invalidOption(option: string, value: unknown, message: string): SluiceError {
  return new SluiceError('OPTION_INVALID', message, { details: { option, value } });
}

/**
 * Check the options `serve()` takes before anything is opened or bound; throws `OPTION_INVALID` naming the
 * option. `serve()` calls it too.
 */
export function checkServeOptions(
  options: Pick<
    ServeOptions,
    'port' | 'host' | 'publicUrl' | 'shutdownGraceMs' | 'concurrency' | 'maxBodyBytes' | 'studio'
  >,
): void {
  const { port, host, publicUrl, shutdownGraceMs, concurrency, maxBodyBytes, studio } = options;
  if (
    studio !== undefined &&
    (typeof studio?.root !== 'string' || !existsSync(join(studio.root, 'index.html')))
  ) {
    throw invalidOption(
      'studio.root',
      studio?.root,
      `studio.root must be the folder of the studio's built files (holding index.html); ${JSON.stringify(studio?.root)} is not. Reinstall @sluice/studio, or leave the studio option out.`,
    );
  }
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    throw invalidOption(
      'port',
      port,
      `port must be a whole number from 0 to 65535 (0 picks a free port); got ${String(port)}.`,
    );
  }
  if (host !== undefined && (typeof host !== 'string' || (isIP(host) === 0 && !HOSTNAME.test(host)))) {
    throw invalidOption(
      'host',
      host,
      `The host ${JSON.stringify(host)} is not valid: give an IP address (127.0.0.1, ::1, 0.0.0.0) or a host name, without brackets or a port.`,
    );
  }
  if (publicUrl !== undefined) publicOrigin(publicUrl);
  if (shutdownGraceMs !== undefined && !(typeof shutdownGraceMs === 'number' && shutdownGraceMs >= 0)) {
    throw invalidOption(
      'shutdownGraceMs',
      shutdownGraceMs,
      `shutdownGraceMs must be a number of milliseconds ≥ 0; got ${String(shutdownGraceMs)}.`,
    );
  }
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) {
    throw invalidOption(
      'concurrency',
      concurrency,
      `concurrency must be a whole number ≥ 1; got ${String(concurrency)}.`,
    );
  }
  if (maxBodyBytes !== undefined && !(Number.isInteger(maxBodyBytes) && maxBodyBytes >= 1)) {
    throw invalidOption(
      'maxBodyBytes',
      maxBodyBytes,
      `maxBodyBytes must be a whole number ≥ 1; got ${String(maxBodyBytes)}.`,
    );
  }
}

/**
 * Serve the REST API on node:http: a thin adapter around `createRequestHandler`. Nothing a client sends
 * ends the process: every request is answered (a coded JSON error for garbage), malformed HTTP gets a 400
 * and its connection closed, and slow clients are cut off.
 */
export async function serve(options: ServeOptions): Promise<SluiceServer> {
  checkServeOptions(options);
  const {
    port = 0,
    host = '127.0.0.1',
    publicUrl,
    shutdownGraceMs = DEFAULT_SHUTDOWN_GRACE_MS,
    ...handlerOptions
  } = options;
  let handler: RequestHandler | undefined;
  let base = '';
  let stopping = false;
  const answering = new Set<Promise<void>>();
  /** Connections with a request being answered, and those to close once it is (garbage came after it). */
  const busy = new WeakMap<Socket, IncomingMessage>();
  const closeAfterAnswer = new WeakSet<Socket>();
  const server = createServer(
    {
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      connectionsCheckingInterval: 1_000,
      // a missing Host header is answered here, with a coded body
      requireHostHeader: false,
    },
    (req, res) => {
      const answer = respond(req, res)
        .catch(() => {
          res.destroy();
        })
        .finally(() => answering.delete(answer));
      answering.add(answer);
    },
  );
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const req = busy.get(socket);
    if (!req) {
      refuseMalformed(error, socket);
    } else if (req.complete) {
      // bytes that are not HTTP behind a request being answered: it is answered, then the connection closes
      closeAfterAnswer.add(socket);
    } else if (error.code?.startsWith('HPE_') && socket.writable) {
      // a body that is not valid HTTP (bad chunking, an unknown transfer coding): reading it fails with a
      // coded error, the request is answered, then the connection closes
      closeAfterAnswer.add(socket);
      req.emit('error', malformed(error));
    } else {
      // a body that breaks off mid-way: its reader fails, and the connection closes
      req.destroy(error);
    }
  });

  async function respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const socket = req.socket;
    busy.set(socket, req);
    // a client that goes away mid-request must not raise an unhandled 'error'
    req.on('error', ignore);
    res.on('error', ignore);
    let response: Response;
    try {
      const request = toRequest(req, base);
      response = handler
        ? await handler(request)
        : errorResponse(new SluiceError('SERVICE_UNAVAILABLE', 'The server is starting; try again shortly.'));
    } catch (error) {
      response = errorResponse(error);
    }
    try {
      await send(response, req, res, stopping || closeAfterAnswer.has(socket));
    } catch {
      res.destroy();
    }
    busy.delete(socket);
    if (closeAfterAnswer.has(socket)) lingeringClose(socket);
  }

  await new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException): void => reject(listenError(error, host, port));
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;
  base = publicUrl === undefined ? url : publicOrigin(publicUrl);
  try {
    handler = createRequestHandler({ ...handlerOptions, publicUrl: base });
  } catch (error) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw error;
  }
  const started = handler;

  let closing: Promise<void> | undefined;
  const close = (closeOptions: CloseOptions = {}): Promise<void> => {
    stopping = true;
    const drained = started.close({ graceMs: closeOptions.graceMs ?? shutdownGraceMs });
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await drained;
      // requests under way get a moment to be answered; then every connection closes
      await settledOrAfter([...answering], ANSWER_WAIT_MS);
      server.closeAllConnections();
      await settledOrAfter([...answering], ANSWER_WAIT_MS);
      await closed;
    })();
    return closing;
  };
  return { url, publicUrl: base, close, loginCode: () => started.loginCode() };
}

function ignore(): void {}

/** Wait for the promises to settle, or for `ms` to pass. */
async function settledOrAfter(promises: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(promises),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): SluiceError {
  const where = `${host}:${port}`;
  const reasons: Record<string, string> = {
    EADDRINUSE: `Cannot listen on ${where}: the port is in use; choose another port (0 picks a free one).`,
    EACCES: `Cannot listen on ${where}: this user may not bind that port; choose a port above 1023.`,
    EADDRNOTAVAIL: `Cannot listen on ${where}: ${host} is not an address of this machine; choose one of its addresses, or 0.0.0.0 for all.`,
    ENOTFOUND: `Cannot listen on ${where}: the host name ${host} cannot be resolved; give an IP address.`,
    EAI_AGAIN: `Cannot listen on ${where}: the host name ${host} cannot be resolved now; give an IP address.`,
  };
  return new SluiceError(
    'OPTION_INVALID',
    reasons[error.code ?? ''] ?? `Cannot listen on ${where}: ${error.message}.`,
    { cause: error, details: { host, port, reason: error.code } },
  );
}

/**
 * Answer a request node:http could not parse (or that came too slowly), then close its connection. Only a
 * connection on which nothing was written yet gets an answer; the others are closed.
 */
function refuseMalformed(error: NodeJS.ErrnoException, socket: Socket): void {
  // no request of this connection is being answered (see clientError): nothing was written for this one
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const coded = malformed(error);
  const status = httpStatusOf(coded.code);
  const body = JSON.stringify({
    error: { code: coded.code, message: coded.message, details: coded.details },
  });
  socket.write(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  lingeringClose(socket);
}

/** What a client's malformed HTTP is, as a coded error. */
function malformed(error: NodeJS.ErrnoException): SluiceError {
  return error.code === 'HPE_HEADER_OVERFLOW'
    ? new SluiceError('REQUEST_TOO_LARGE', "The request's headers are larger than this server accepts.")
    : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new SluiceError('REQUEST_TIMEOUT', 'The request did not arrive in time; send it again.')
      : new SluiceError(
          'REQUEST_INVALID',
          `The request is not valid HTTP/1.1 (${(error.code ?? 'malformed').replace(/^HPE_/, '')}); check what the client sends.`,
        );
}

/**
 * Close a connection after its answer without losing the answer: what the client still sends is read and
 * dropped until it closes its end (closing with unread bytes would reset the connection, and the client
 * could lose the answer), for at most a second.
 */
function lingeringClose(socket: Socket): void {
  socket.end();
  socket.on('data', ignore);
  socket.resume();
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/** The Fetch request for a node:http one, its URL on the server's own base (never the Host header). */
function toRequest(req: IncomingMessage, base: string): Request {
  const method = req.method ?? 'GET';
  if (UNSUPPORTED_METHODS.has(method)) {
    throw new SluiceError('METHOD_NOT_ALLOWED', `This server does not answer ${method} requests.`, {
      details: { allow: 'GET, POST' },
    });
  }
  if (req.httpVersion === '1.1' && req.headers.host === undefined) {
    throw new SluiceError('REQUEST_INVALID', 'An HTTP/1.1 request needs a Host header.');
  }
  const url = requestUrl(req.url ?? '', base);
  const headers = new Headers();
  for (let index = 0; index < req.rawHeaders.length; index += 2) {
    const name = req.rawHeaders[index]!;
    try {
      headers.append(name, req.rawHeaders[index + 1]!);
    } catch (error) {
      throw new SluiceError('REQUEST_INVALID', `The request header ${JSON.stringify(name)} is not valid.`, {
        cause: error,
      });
    }
  }
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(url, {
    method,
    headers,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' as const } : {}),
  });
}

/** The request target (`/path?query`, or an absolute URL whose host is ignored) on the server's base. */
function requestUrl(target: string, base: string): URL {
  let path: string | undefined;
  if (target.startsWith('/')) {
    path = target;
  } else if (/^https?:\/\//i.test(target)) {
    try {
      const absolute = new URL(target);
      path = `${absolute.pathname}${absolute.search}`;
    } catch {
      // refused below
    }
  }
  if (path !== undefined) {
    try {
      return new URL(`${base}${path}`);
    } catch {
      // refused below
    }
  }
  const shown = target.length > 200 ? `${target.slice(0, 200)}…` : target;
  throw new SluiceError(
    'REQUEST_INVALID',
    `The request target ${JSON.stringify(shown)} is not a path of this server.`,
  );
}

async function send(
  response: Response,
  req: IncomingMessage,
  res: ServerResponse,
  closeConnection: boolean,
): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    headers[key] = value;
  });
  // a body the handler did not read to the end (too large, refused) is not read on: the connection closes
  if (closeConnection || (req.method !== 'GET' && req.method !== 'HEAD' && !req.complete))
    headers.connection = 'close';
  // streamed bodies (files, logs, server-sent events) are written as they are read; the rest at once
  const streamed =
    response.body !== null &&
    (headers['content-length'] !== undefined || headers['content-type']?.startsWith('text/event-stream'));
  if (!streamed) {
    const body = Buffer.from(await response.arrayBuffer());
    res.writeHead(response.status, { ...headers, 'content-length': String(body.byteLength) });
    res.end(body);
    return;
  }
  res.writeHead(response.status, headers);
  res.flushHeaders();
  const source = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  // a client that goes away stops the body (an event stream ends its subscription)
  res.once('close', () => source.destroy());
  await new Promise<void>((resolve) => {
    source.once('error', () => {
      res.destroy();
      resolve();
    });
    source.once('end', () => {
      res.end();
      resolve();
    });
    res.once('close', resolve);
    source.pipe(res, { end: false });
  });
}
