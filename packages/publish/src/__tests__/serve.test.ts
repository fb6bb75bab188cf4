/**
 * What a client sends over a raw socket cannot end the server: every request gets an HTTP answer with a
 * coded body (or, for bytes that are not HTTP, a coded 400 and a closed connection), and the server goes
 * on answering. URLs in answers come from the public URL, never from the Host header.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { checkServeOptions, publishPipeline, serve, type SluiceServer } from '../index.js';
import { fixture, onCleanup, sleep, type Fixture } from './helpers.js';

interface RawAnswer {
  /** 0 when the connection closed without an answer. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Whether the server closed the connection. */
  closed: boolean;
}

/** Send raw bytes (written in parts, with a pause between) and read until the server closes or 3 s pass. */
function raw(server: SluiceServer, ...parts: Array<string | Buffer>): Promise<RawAnswer> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let closed = false;
    const socket = connect(Number(port), hostname, async () => {
      for (const [index, part] of parts.entries()) {
        if (index > 0) await sleep(50);
        if (!socket.destroyed) socket.write(part);
      }
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    const finish = (): void => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0);
      socket.destroy();
      resolve({ status, headers, body: rest.join('\r\n\r\n'), closed });
    };
    socket.on('close', () => {
      closed = true;
      finish();
    });
    const timer = setTimeout(finish, 3_000);
  });
}

/** A request with the given start line and headers; `Connection: close` unless a Connection is given. */
function request(startLine: string, headers: Record<string, string> = {}, body = ''): string {
  const all = { Host: 'sluice.test', Connection: 'close', ...headers };
  const lines = Object.entries(all).map(([name, value]) => `${name}: ${value}`);
  return `${startLine}\r\n${lines.join('\r\n')}\r\n\r\n${body}`;
}

function code(answer: RawAnswer): string | undefined {
  try {
    return (JSON.parse(answer.body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

function queueRows(f: Fixture): number {
  return (f.ws.store.prepare('SELECT COUNT(*) AS n FROM publish_queue').get() as { n: number }).n;
}

async function setup(publicUrl?: string) {
  const f = await fixture();
  const published = await publishPipeline(f.ws, f.pipeline(), { name: 'raw' });
  const server = await serve({ workspace: f.ws, ...(publicUrl ? { publicUrl } : {}) });
  onCleanup(() => server.close({ graceMs: 0 }));
  const token = f.token('submit');
  const auth = { Authorization: `Bearer ${token}` };
  /** The server still answers a well-formed request. */
  const stillServing = async (): Promise<void> => {
    const answer = await raw(server, request('GET /pipelines HTTP/1.1', auth));
    expect(answer.status).toBe(200);
  };
  return { f, published, server, auth, stillServing };
}

describe('serve() against raw sockets', () => {
  it('answers garbage paths and Host headers with coded answers and keeps serving', async () => {
    const { f, server, auth, stillServing } = await setup();
    const cases: Array<[string, Array<string | Buffer>, number, string | undefined]> = [
      ['an empty path segment', [request('GET // HTTP/1.1', auth)], 404, 'ROUTE_NOT_FOUND'],
      [
        'a protocol-relative path',
        [request('GET //evil.example/pipelines HTTP/1.1', auth)],
        404,
        'ROUTE_NOT_FOUND',
      ],
      ['a malformed Host', [request('GET /pipelines HTTP/1.1', { ...auth, Host: '[::1' })], 200, undefined],
      ['an empty Host', [request('GET /pipelines HTTP/1.1', { ...auth, Host: '' })], 200, undefined],
      ['a lone %', [request('GET /runs/% HTTP/1.1', auth)], 404, 'ROUTE_NOT_FOUND'],
      ['an encoded NUL', [request('GET /runs/%00 HTTP/1.1', auth)], 404, 'RUN_NOT_FOUND'],
      [
        'a bad escape in a pipeline id',
        [request('GET /pipelines/%E0%A4%A HTTP/1.1', auth)],
        404,
        'ROUTE_NOT_FOUND',
      ],
      ['a very long path', [request(`GET /runs/${'a'.repeat(8000)} HTTP/1.1`, auth)], 404, 'RUN_NOT_FOUND'],
      ['an asterisk target', [request('OPTIONS * HTTP/1.1', auth)], 400, 'REQUEST_INVALID'],
      ['TRACE', [request('TRACE /pipelines HTTP/1.1', auth)], 405, 'METHOD_NOT_ALLOWED'],
      ['an unknown route method', [request('DELETE /pipelines HTTP/1.1', auth)], 405, 'METHOD_NOT_ALLOWED'],
      [
        'no Host in HTTP/1.1',
        ['GET /pipelines HTTP/1.1\r\nConnection: close\r\n\r\n'],
        400,
        'REQUEST_INVALID',
      ],
      ['no credentials', [request('GET /pipelines HTTP/1.1')], 401, 'AUTH_REQUIRED'],
      [
        'an Upgrade request',
        [request('GET /pipelines HTTP/1.1', { ...auth, Upgrade: 'websocket' })],
        200,
        undefined,
      ],
      [
        'many headers',
        [
          request('GET /pipelines HTTP/1.1', {
            ...auth,
            ...Object.fromEntries(Array.from({ length: 2500 }, (_, i) => [`x${i}`, ''])),
          }),
        ],
        200,
        undefined,
      ],
    ];
    for (const [what, parts, status, expected] of cases) {
      const answer = await raw(server, ...parts);
      expect([what, answer.status, code(answer)]).toEqual([what, status, expected]);
    }
    await stillServing();
    expect(queueRows(f)).toBe(0);
  });

  it('answers bytes that are not HTTP with a coded 400 and closes the connection', async () => {
    const { server, auth, stillServing } = await setup();
    const cases: Array<[string, Array<string | Buffer>, number, string]> = [
      ['not HTTP at all', ['hello\r\n\r\n'], 400, 'REQUEST_INVALID'],
      ['an unknown method', [request('BREW /pipelines HTTP/1.1', auth)], 400, 'REQUEST_INVALID'],
      ['a space in the path', ['GET /a b HTTP/1.1\r\nHost: x\r\n\r\n'], 400, 'REQUEST_INVALID'],
      ['a NUL byte in the path', ['GET /a\u0000b HTTP/1.1\r\nHost: x\r\n\r\n'], 400, 'REQUEST_INVALID'],
      [
        'a control character in a header',
        ['GET / HTTP/1.1\r\nHost: x\r\nX: a\u0001b\r\n\r\n'],
        400,
        'REQUEST_INVALID',
      ],
      [
        'headers over 16 KiB',
        [request('GET /pipelines HTTP/1.1', { ...auth, X: 'a'.repeat(20_000) })],
        413,
        'REQUEST_TOO_LARGE',
      ],
      [
        'Content-Length with chunked',
        [request('POST /pipelines/x HTTP/1.1', { 'Content-Length': '5', 'Transfer-Encoding': 'chunked' })],
        400,
        'REQUEST_INVALID',
      ],
      [
        'a bad Content-Length',
        [request('POST /pipelines/x HTTP/1.1', { 'Content-Length': 'abc' })],
        400,
        'REQUEST_INVALID',
      ],
      [
        'binary bytes',
        [Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03])],
        400,
        'REQUEST_INVALID',
      ],
    ];
    for (const [what, parts, status, expected] of cases) {
      const answer = await raw(server, ...parts);
      expect([what, answer.status, code(answer), answer.closed]).toEqual([what, status, expected, true]);
    }
    // on a kept-alive connection whose first request was answered, a malformed second one is answered too
    const second = await raw(
      server,
      request('GET /pipelines HTTP/1.1', { ...auth, Connection: 'keep-alive' }),
      request('GET /pipelines HTTP/1.1', { ...auth, X: 'a'.repeat(20_000) }),
    );
    expect(second.status).toBe(200);
    expect(second.body).toMatch(/HTTP\/1\.1 413 [^]*"code":"REQUEST_TOO_LARGE"/);
    // a CONNECT request is not served: the connection just closes
    const tunnel = await raw(server, request('CONNECT evil.example:443 HTTP/1.1', auth));
    expect([tunnel.status, tunnel.closed]).toEqual([0, true]);
    // garbage after a good request on a kept-alive connection: the good one is answered, then it closes
    const pipelined = await raw(
      server,
      request('GET /pipelines HTTP/1.1', { ...auth, Connection: 'keep-alive' }) + 'garbage\r\n\r\n',
    );
    expect([pipelined.status, pipelined.closed]).toEqual([200, true]);
    await stillServing();
  });

  it('survives clients that stop mid-body or send a broken body, and writes nothing', async () => {
    const { f, published, server, auth, stillServing } = await setup();
    const submit = `POST /pipelines/${published.id} HTTP/1.1`;
    const body = JSON.stringify({ ExperimentName: 'half', ParameterAssignments: { pipeline_arg: 1 } });
    const { hostname, port } = new URL(server.url);
    // a client that sends half its headers and waits does not hold up the others
    const slow = connect(Number(port), hostname, () => slow.write('GET /pipelines HTTP/1.1\r\nHost: x\r\n'));
    slow.on('error', () => undefined);
    onCleanup(() => slow.destroy());
    // half the body, then the client goes away
    const socket = connect(Number(port), hostname);
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(
      request(submit, { ...auth, 'Content-Type': 'application/json', 'Content-Length': String(body.length) }),
    );
    socket.write(body.slice(0, 10));
    await sleep(100);
    socket.destroy();
    await sleep(100);
    // a chunked body that breaks off with a malformed chunk
    const broken = await raw(
      server,
      request(submit, { ...auth, 'Transfer-Encoding': 'chunked' }, `5\r\n{"Exp\r\n`),
      'zz\r\n\r\n',
    );
    // its reader fails: the request is answered with a coded 400, then the connection closes
    expect([broken.status, code(broken), broken.closed]).toEqual([400, 'REQUEST_INVALID', true]);
    // so is a body in a transfer coding the server does not speak
    const unknownCoding = await raw(
      server,
      request(submit, { ...auth, 'Transfer-Encoding': 'gzip, nonsense' }, body),
    );
    expect([unknownCoding.status, code(unknownCoding), unknownCoding.closed]).toEqual([
      400,
      'REQUEST_INVALID',
      true,
    ]);
    await stillServing();
    expect(queueRows(f)).toBe(0);
    expect(f.ws.store.listRuns()).toHaveLength(0);
  });

  it('builds Location and Url on the public URL, whatever the Host header says', async () => {
    const { published, server, auth } = await setup('https://sluice.example.com');
    expect(server.publicUrl).toBe('https://sluice.example.com');
    const body = JSON.stringify({ ExperimentName: 'host', ParameterAssignments: { pipeline_arg: 2 } });
    for (const target of [`/pipelines/${published.id}`, `http://evil.example/pipelines/${published.id}`]) {
      const answer = await raw(
        server,
        request(
          `POST ${target} HTTP/1.1`,
          {
            ...auth,
            Host: 'evil.example',
            'Content-Type': 'application/json',
            'Content-Length': String(body.length),
          },
          body,
        ),
      );
      expect(answer.status).toBe(200);
      const { Id, Url } = JSON.parse(answer.body) as { Id: string; Url: string };
      expect(answer.headers.location).toBe(`https://sluice.example.com/runs/${Id}`);
      expect(Url).toBe(answer.headers.location);
    }
    const listed = await raw(server, request('GET /pipelines HTTP/1.1', { ...auth, Host: 'evil.example' }));
    expect(JSON.parse(listed.body)).toEqual([
      expect.objectContaining({ Url: `https://sluice.example.com/pipelines/${published.id}` }),
    ]);
  });

  it('defaults the public URL to the bound address', async () => {
    const { published, server, auth } = await setup();
    expect(server.publicUrl).toBe(server.url);
    const listed = await raw(server, request('GET /pipelines HTTP/1.1', { ...auth, Host: 'evil.example' }));
    expect(JSON.parse(listed.body)).toEqual([
      expect.objectContaining({ Url: `${server.url}/pipelines/${published.id}` }),
    ]);
  });

  it('refuses options it cannot use, before binding anything', async () => {
    const f = await fixture();
    const refused = async (options: Record<string, unknown>, option: string): Promise<void> => {
      await expect(serve({ workspace: f.ws, ...options })).rejects.toMatchObject({
        code: 'OPTION_INVALID',
        details: expect.objectContaining({ option }),
      });
    };
    await refused({ port: 99_999 }, 'port');
    await refused({ port: Number.NaN }, 'port');
    await refused({ port: 1.5 }, 'port');
    await refused({ host: 'not a host' }, 'host');
    await refused({ host: '[::1]' }, 'host');
    await refused({ concurrency: 0 }, 'concurrency');
    await refused({ shutdownGraceMs: -1 }, 'shutdownGraceMs');
    for (const publicUrl of [
      'ftp://sluice.example.com',
      'sluice.example.com',
      'https://sluice.example.com/api',
      'https://user:pw@sluice.example.com',
      'https://sluice.example.com/?x=1',
      'https://sluice.example.com/#x',
    ]) {
      await refused({ publicUrl }, 'publicUrl');
    }
    expect(() =>
      checkServeOptions({ publicUrl: 'https://sluice.example.com/', port: 0, host: '::1' }),
    ).not.toThrow();
    // an address in use is a coded refusal too
    const first = await serve({ workspace: f.ws });
    onCleanup(() => first.close({ graceMs: 0 }));
    await expect(serve({ workspace: f.ws, port: Number(new URL(first.url).port) })).rejects.toMatchObject({
      code: 'OPTION_INVALID',
      details: expect.objectContaining({ reason: 'EADDRINUSE' }),
    });
  });
});
