import type { RunDetail, RunSummary, StepDetail } from '@sluice/publish';
import { QueryClient } from '@tanstack/react-query';
import { describe, expect, it } from 'vitest';
import { ApiError, errorOf } from '../app/lib/api.js';
import type { RunPages } from '../app/lib/cache.js';
import { applyEvent } from '../app/lib/use-events.js';

const summary = (id: string, overrides: Partial<RunSummary> = {}): RunSummary => ({
  id,
  experiment: 'iris',
  pipelineName: 'iris',
  status: 'Running',
  runSource: 'CLI',
  submittedBy: 'user:me',
  createdAt: '2026-01-01T00:00:00Z',
  startedAt: '2026-01-01T00:00:00Z',
  endedAt: null,
  tags: {},
  steps: { total: 1, ran: 0, reused: 0, failed: 0, running: 1 },
  error: null,
  ...overrides,
});

describe('server events on the query cache', () => {
  it('put a new run in every cached list it belongs to, and in no other', () => {
    const client = new QueryClient();
    const list = (runs: RunSummary[]): RunPages => ({ pages: [{ runs }], pageParams: [''] });
    client.setQueryData(['runs', ''], list([summary('old')]));
    client.setQueryData(['runs', 'experiment=other'], list([]));
    client.setQueryData(['runs', 'status=Running'], list([summary('old')]));
    applyEvent(client, { type: 'run', run: summary('new') });
    const ids = (key: string) =>
      client.getQueryData<RunPages>(['runs', key])!.pages[0]!.runs.map((run) => run.id);
    expect(ids('')).toEqual(['new', 'old']);
    expect(ids('experiment=other')).toEqual([]);
    expect(ids('status=Running')).toEqual(['new', 'old']);
    applyEvent(client, { type: 'run', run: summary('new', { status: 'Finished' }) });
    expect(ids('status=Running')).toEqual(['old']);
    expect(client.getQueryData<RunPages>(['runs', ''])!.pages[0]!.runs[0]!.status).toBe('Finished');
  });

  it('colour a step of a cached run and grow a cached step log', () => {
    const client = new QueryClient();
    const detail = {
      ...summary('r'),
      graph: { nodes: [{ id: 'train', type: 'step', label: 'train', status: 'Queued' }], edges: [] },
    } as unknown as RunDetail;
    client.setQueryData(['run', 'r'], detail);
    client.setQueryData(['step', 'r', 'train'], { logs: { stdout: 0, stderr: 0, sluice: 0 } } as StepDetail);
    applyEvent(client, { type: 'step', runId: 'r', step: 'train', status: 'Running' });
    expect(client.getQueryData<RunDetail>(['run', 'r'])!.graph.nodes[0]!.status).toBe('Running');
    applyEvent(client, { type: 'log', runId: 'r', step: 'train', stream: 'stdout', size: 42 });
    expect(client.getQueryData<StepDetail>(['step', 'r', 'train'])!.logs.stdout).toBe(42);
    // events of other runs leave it alone
    applyEvent(client, { type: 'step', runId: 'other', step: 'train', status: 'Failed' });
    expect(client.getQueryData<RunDetail>(['run', 'r'])!.graph.nodes[0]!.status).toBe('Running');
  });
});

describe('API errors', () => {
  it('read the code and message of a coded answer', async () => {
    const answer = new Response(
      JSON.stringify({ error: { code: 'RUN_NOT_FOUND', message: 'No run "x".' } }),
      {
        status: 404,
      },
    );
    const error = await errorOf(answer);
    expect(error).toBeInstanceOf(ApiError);
    expect([error.status, error.code, error.message]).toEqual([404, 'RUN_NOT_FOUND', 'No run "x".']);
  });

  it('fall back to the status of an answer without a coded body', async () => {
    const error = await errorOf(
      new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }),
    );
    expect([error.code, error.message]).toEqual(['HTTP_502', 'Bad Gateway']);
  });
});
