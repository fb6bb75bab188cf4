import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createRequestHandler, errorResponse, type RequestHandlerOptions } from './handler.js';

export interface ServeOptions extends RequestHandlerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Loopback only unless told otherwise. */
  host?: string;
}

export interface SluiceServer {
  /** The server's base URL, e.g. `http://127.0.0.1:4321`. */
  url: string;
  /** Stop listening and stop taking queued runs (runs already executing go on in this process). */
  close(): Promise<void>;
}

/** Serve the REST API on node:http: a thin adapter around `createRequestHandler`. */
export async function serve(options: ServeOptions): Promise<SluiceServer> {
  const { port = 0, host = '127.0.0.1', ...handlerOptions } = options;
  const handler = createRequestHandler(handlerOptions);
  const server = createServer((req, res) => {
    void handler(toRequest(req, host))
      .catch(errorResponse)
      .then((response) => send(response, req, res))
      .catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: async () => {
      await handler.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function toRequest(req: IncomingMessage, host: string): Request {
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? host}`);
  const headers = new Headers();
  for (let index = 0; index < req.rawHeaders.length; index += 2) {
    headers.append(req.rawHeaders[index]!, req.rawHeaders[index + 1]!);
  }
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(url, {
    method,
    headers,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' as const } : {}),
  });
}

async function send(response: Response, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    headers[key] = value;
  });
  // a body the handler did not read to the end (too large) is not read on: the connection closes
  if (req.method !== 'GET' && req.method !== 'HEAD' && !req.complete) headers.connection = 'close';
  res.writeHead(response.status, { ...headers, 'content-length': String(body.byteLength) });
  res.end(body);
}
