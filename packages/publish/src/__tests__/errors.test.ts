/**
 * Every refusal of the REST API, over real HTTP: its status from the one table, its code, and that nothing
 * ran — no run and no queue row — for any of them.
 */
import { describe, expect, it } from 'vitest';
import {
  HTTP_STATUS,
  PUBLISH_ERROR_CODES,
  PipelineEndpoint,
  createRequestHandler,
  createSluiceClient,
  createToken,
  listTokens,
  publishPipeline,
  revokeToken,
  serve,
} from '../index.js';
import { fixture, onCleanup, sleep, type Fixture } from './helpers.js';

interface Refusal {
  status: number;
  code: string;
  message: string;
  headers: Headers;
}

function queueRows(f: Fixture): number {
  return (f.ws.store.prepare('SELECT COUNT(*) AS n FROM publish_queue').get() as { n: number }).n;
}

async function setup(options: { maxBodyBytes?: number } = {}) {
  const f = await fixture();
  const published = await publishPipeline(f.ws, f.pipeline(), { name: 'errors' });
  await PipelineEndpoint.publish(f.ws, { name: 'ep', pipeline: published });
  const rest = await serve({ workspace: f.ws, ...options });
  onCleanup(() => rest.close());
  const token = f.token('submit');
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = { authorization: `Bearer ${token}` },
  ): Promise<Refusal> => {
    const response = await fetch(rest.url + path, {
      method,
      headers,
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const json = (await response.json()) as { error: { code: string; message: string } };
    return { status: response.status, ...json.error, headers: response.headers };
  };
  return { f, published, rest, token, call };
}

describe('REST refusals', () => {
  it('maps each mistake to its code and status, and runs nothing', async () => {
    const { f, published, call } = await setup();
    const submit = `/pipelines/${published.id}`;
    const expectRefusal = async (
      refusal: Promise<Refusal>,
      status: number,
      code: string,
    ): Promise<Refusal> => {
      const answered = await refusal;
      expect({ status: answered.status, code: answered.code }).toEqual({ status, code });
      expect(answered.message.length).toBeGreaterThan(10);
      return answered;
    };

    // the request
    await expectRefusal(call('POST', submit, '{"ExperimentName": '), 400, 'REQUEST_INVALID');
    await expectRefusal(call('POST', submit, ''), 400, 'REQUEST_INVALID');
    await expectRefusal(call('POST', submit, [1, 2]), 400, 'REQUEST_INVALID');
    await expectRefusal(
      call('POST', submit, { ParameterAssignments: { pipeline_arg: 1 } }),
      400,
      'REQUEST_INVALID',
    );
    await expectRefusal(call('POST', submit, { ExperimentName: 'bad name!' }), 400, 'REQUEST_INVALID');
    await expectRefusal(
      call('POST', submit, { ExperimentName: 'e', Parameters: {} }),
      400,
      'REQUEST_INVALID',
    );
    await expectRefusal(
      call('POST', submit, { ExperimentName: 'e', ParameterAssignments: [1] }),
      400,
      'REQUEST_INVALID',
    );
    await expectRefusal(
      call('POST', submit, { ExperimentName: 'e', Tags: { a: 1 } }),
      400,
      'REQUEST_INVALID',
    );
    await expectRefusal(
      call('POST', submit, { ExperimentName: 'e', ContinueOnStepFailure: 'yes' }),
      400,
      'REQUEST_INVALID',
    );
    await expectRefusal(
      call('POST', submit, { ExperimentName: 'e', DataPathAssignments: { input_data: 'data/x' } }),
      400,
      'REQUEST_INVALID',
    );
    const unknown = await expectRefusal(
      call('POST', submit, { ExperimentName: 'e', ParameterAssignments: { pipeline_argh: 1 } }),
      400,
      'PARAMETER_UNKNOWN',
    );
    expect(unknown.message).toContain('pipeline_arg');
    await expectRefusal(
      call('POST', submit, { ExperimentName: 'e', ParameterAssignments: { pipeline_arg: 'ten' } }),
      400,
      'PARAMETER_TYPE',
    );
    await expectRefusal(
      call('POST', submit, { ExperimentName: 'e', ParameterAssignments: { pipeline_arg: { n: 1 } } }),
      400,
      'PARAMETER_TYPE',
    );
    const path = (DataStoreName: string, RelativePath: string) => ({ DataStoreName, RelativePath });
    await expectRefusal(
      call('POST', submit, {
        ExperimentName: 'e',
        DataPathAssignments: { nope: path('workspaceblobstore', 'data') },
      }),
      400,
      'PARAMETER_UNKNOWN',
    );
    await expectRefusal(
      call('POST', submit, {
        ExperimentName: 'e',
        DataPathAssignments: { input_data: path('nostore', 'data') },
      }),
      400,
      'DATASTORE_NOT_FOUND',
    );
    await expectRefusal(
      call('POST', submit, {
        ExperimentName: 'e',
        DataPathAssignments: { input_data: path('workspaceblobstore', 'data/missing.txt') },
      }),
      400,
      'INPUT_NOT_AVAILABLE',
    );

    // what is asked for
    await expectRefusal(call('GET', '/nothing/here'), 404, 'ROUTE_NOT_FOUND');
    await expectRefusal(
      call('POST', '/pipelines/no-such-id', { ExperimentName: 'e' }),
      404,
      'PUBLISHED_PIPELINE_NOT_FOUND',
    );
    await expectRefusal(call('POST', '/endpoints/nope', { ExperimentName: 'e' }), 404, 'ENDPOINT_NOT_FOUND');
    await expectRefusal(
      call('POST', '/endpoints/ep/versions/3', { ExperimentName: 'e' }),
      404,
      'ENDPOINT_VERSION_NOT_FOUND',
    );
    await expectRefusal(
      call('POST', '/endpoints/ep?version=3', { ExperimentName: 'e' }),
      404,
      'ENDPOINT_VERSION_NOT_FOUND',
    );
    await expectRefusal(call('GET', '/runs/no-such-run'), 404, 'RUN_NOT_FOUND');
    const wrongMethod = await expectRefusal(call('DELETE', submit), 405, 'METHOD_NOT_ALLOWED');
    expect(wrongMethod.headers.get('allow')).toBe('GET, POST');
    await expectRefusal(call('POST', '/runs/x', { ExperimentName: 'e' }), 405, 'METHOD_NOT_ALLOWED');
    await expectRefusal(call('POST', '/pipelines', { ExperimentName: 'e' }), 405, 'METHOD_NOT_ALLOWED');

    // the state it is in
    published.disable();
    await expectRefusal(call('POST', submit, { ExperimentName: 'e' }), 409, 'PUBLISHED_PIPELINE_DISABLED');
    await expectRefusal(
      call('POST', '/endpoints/ep', { ExperimentName: 'e' }),
      409,
      'PUBLISHED_PIPELINE_DISABLED',
    );
    published.enable();
    PipelineEndpoint.get(f.ws, 'ep').disable();
    await expectRefusal(call('POST', '/endpoints/ep', { ExperimentName: 'e' }), 409, 'ENDPOINT_DISABLED');
    PipelineEndpoint.get(f.ws, 'ep').archive();
    await expectRefusal(
      call('POST', '/endpoints/ep/versions/0', { ExperimentName: 'e' }),
      409,
      'ENDPOINT_DISABLED',
    );

    expect(f.ws.store.listRuns()).toEqual([]);
    expect(queueRows(f)).toBe(0);
  });

  it('refuses bodies over the limit with 413, by Content-Length and while reading a stream', async () => {
    const { f, published, rest, token } = await setup({ maxBodyBytes: 1024 });
    const big = JSON.stringify({ ExperimentName: 'e', Description: 'x'.repeat(2000) });
    const response = await fetch(`${rest.url}/pipelines/${published.id}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: big,
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('REQUEST_TOO_LARGE');

    // no Content-Length: counted while reading, reading stops at the limit
    const handler = createRequestHandler({ workspace: f.ws, maxBodyBytes: 1024 });
    onCleanup(() => handler.close());
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new TextEncoder().encode(' '.repeat(512)));
        if (pulled > 100) controller.close();
      },
    });
    const streamed = await handler(
      new Request(`http://local/pipelines/${published.id}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: stream,
        duplex: 'half',
      }),
    );
    expect(streamed.status).toBe(413);
    expect(pulled).toBeLessThan(10);

    // at the limit is fine
    const fits = JSON.stringify({ ExperimentName: 'fits', Description: 'x'.repeat(900) });
    expect(Buffer.byteLength(fits)).toBeLessThanOrEqual(1024);
    const accepted = await handler(
      new Request(`http://local/pipelines/${published.id}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: fits,
      }),
    );
    expect(accepted.status).toBe(200);
    const { Id } = (await accepted.json()) as { Id: string };
    const client = createSluiceClient({ baseUrl: 'http://local', token, fetch: handler });
    expect((await client.waitForRun(Id, { pollIntervalMs: 50 })).Status.StatusDetail).toBe('Finished');
  });

  it('needs a valid, live token of the right scope on every route; refused calls run nothing', async () => {
    const { f, published, rest, call } = await setup();
    const submit = `/pipelines/${published.id}`;
    const body = { ExperimentName: 'auth' };
    const as = (authorization?: string): Record<string, string> =>
      authorization === undefined ? {} : { authorization };

    const none = await call('POST', submit, body, as());
    expect([none.status, none.code]).toEqual([401, 'AUTH_REQUIRED']);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    for (const route of ['/pipelines', '/endpoints', '/runs/x', '/no/route']) {
      expect((await call('GET', route, undefined, as())).status).toBe(401);
    }
    const wrongSecret = `slc_${createToken(f.ws, { scope: 'submit' }).id}_${'A'.repeat(43)}`;
    for (const bad of [
      'Bearer nonsense',
      'Basic dXNlcjpwYXNz',
      'Bearer',
      `Bearer ${wrongSecret}`,
      `Bearer slc_000000000000_${'A'.repeat(43)}`,
    ]) {
      const refused = await call('POST', submit, body, as(bad));
      expect([bad, refused.status, refused.code]).toEqual([bad, 401, 'AUTH_INVALID']);
    }

    const expired = createToken(f.ws, { scope: 'submit', expiresIn: 0.01 });
    await sleep(30);
    const expiredRefusal = await call('POST', submit, body, as(`Bearer ${expired.token}`));
    expect([expiredRefusal.status, expiredRefusal.code]).toEqual([401, 'AUTH_INVALID']);
    expect(expiredRefusal.message).toMatch(/expired/);

    const revoked = createToken(f.ws, { scope: 'submit', description: 'ci' });
    revokeToken(f.ws, revoked.id);
    const revokedRefusal = await call('POST', submit, body, as(`Bearer ${revoked.token}`));
    expect([revokedRefusal.status, revokedRefusal.code]).toEqual([401, 'AUTH_INVALID']);
    expect(revokedRefusal.message).toMatch(/revoked/);
    expect(() => revokeToken(f.ws, 'nope')).toThrow(expect.objectContaining({ code: 'TOKEN_NOT_FOUND' }));

    const reader = createToken(f.ws, { scope: 'read', expiresIn: '1h' });
    const forbidden = await call('POST', submit, body, as(`Bearer ${reader.token}`));
    expect([forbidden.status, forbidden.code]).toEqual([403, 'AUTH_FORBIDDEN']);
    const readable = await fetch(`${rest.url}/pipelines`, {
      headers: { authorization: `Bearer ${reader.token}` },
    });
    expect(readable.status).toBe(200);

    expect(f.ws.store.listRuns()).toEqual([]);
    expect(queueRows(f)).toBe(0);

    // the store keeps hashes, never tokens
    const stored = JSON.stringify(f.ws.store.prepare('SELECT * FROM publish_tokens').all());
    expect(stored).not.toContain(reader.token.split('_').pop());
    expect(stored).not.toContain(reader.token);
    expect(listTokens(f.ws).find((entry) => entry.id === revoked.id)).toMatchObject({
      scope: 'submit',
      description: 'ci',
      revokedAt: expect.any(String),
    });
    expect(JSON.stringify(listTokens(f.ws))).not.toContain('secret');
  });

  it('surfaces refusals as coded errors in the client', async () => {
    const { published, rest, token } = await setup();
    const client = createSluiceClient({ baseUrl: rest.url, token });
    await expect(
      client.submitPipeline(published.id, { ExperimentName: 'e', ParameterAssignments: { nope: 1 } }),
    ).rejects.toMatchObject({ name: 'SluiceError', code: 'PARAMETER_UNKNOWN', details: { status: 400 } });
    await expect(client.getRun('missing')).rejects.toMatchObject({
      code: 'RUN_NOT_FOUND',
      details: { status: 404 },
    });
    await expect(createSluiceClient({ baseUrl: rest.url, token: 'x' }).listPipelines()).rejects.toMatchObject(
      {
        code: 'AUTH_INVALID',
      },
    );
    await rest.close();
    await expect(client.listPipelines()).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });

  it('has a status for every code of its own', () => {
    for (const code of PUBLISH_ERROR_CODES.filter((code) => code !== 'WAIT_TIMEOUT')) {
      expect([code, HTTP_STATUS[code]]).toEqual([code, expect.any(Number)]);
    }
  });
});
