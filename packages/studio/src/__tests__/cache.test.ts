import type { RunDetail, RunSummary, StepDetail } from '@sluice/publish';
import { describe, expect, it } from 'vitest';
import {
  applyLogToStep,
  applyRunToDetail,
  applyRunToPages,
  applyStepToDetail,
  type RunPages,
} from '../app/lib/cache.js';

const summary = (id: string, overrides: Partial<RunSummary> = {}): RunSummary => ({
  id,
  experiment: 'iris',
  pipelineName: 'train',
  status: 'Running',
  runSource: 'SDK',
  submittedBy: null,
  createdAt: '2026-01-01T00:00:00Z',
  startedAt: '2026-01-01T00:00:00Z',
  endedAt: null,
  tags: {},
  steps: { total: 2, ran: 0, reused: 0, failed: 0, running: 1 },
  error: null,
  ...overrides,
});
const pages = (...lists: RunSummary[][]): RunPages => ({
  pages: lists.map((runs) => ({ runs })),
  pageParams: lists.map(() => ''),
});

describe('run events on lists', () => {
  it('replace the row of a run already listed, in place', () => {
    const data = pages([summary('b'), summary('a')], [summary('old')]);
    const next = applyRunToPages(data, summary('a', { status: 'Finished' }), {});
    expect(next.pages[0]!.runs.map((run) => [run.id, run.status])).toEqual([
      ['b', 'Running'],
      ['a', 'Finished'],
    ]);
    expect(next.pages[1]).toBe(data.pages[1]);
  });

  it('put a new run that matches the filters first, and leave out one that does not', () => {
    const data = pages([summary('a')]);
    expect(
      applyRunToPages(data, summary('new'), { experiment: 'iris' }).pages[0]!.runs.map((run) => run.id),
    ).toEqual(['new', 'a']);
    expect(applyRunToPages(data, summary('new', { experiment: 'other' }), { experiment: 'iris' })).toEqual(
      data,
    );
  });

  it('drop a run that no longer matches', () => {
    const data = pages([summary('a'), summary('b')]);
    const next = applyRunToPages(data, summary('a', { status: 'Failed' }), { status: 'Running' });
    expect(next.pages[0]!.runs.map((run) => run.id)).toEqual(['b']);
  });
});

const detail: RunDetail = {
  ...summary('r'),
  description: '',
  parameters: {},
  options: {},
  git: {},
  published: null,
  graph: {
    nodes: [
      {
        id: 'prep',
        type: 'step',
        label: 'prep',
        status: 'Finished',
        startedAt: '2026-01-01T00:00:00Z',
        endedAt: '2026-01-01T00:00:01Z',
      },
      { id: 'train', type: 'step', label: 'train', status: 'NotStarted', startedAt: null, endedAt: null },
      { id: 'data:x', type: 'data', label: 'x' },
    ],
    edges: [{ source: 'prep', target: 'data:x' }],
  },
};

describe('step and run events on a run', () => {
  it('colour the step, note its start and end, and keep the graph shape', () => {
    const running = applyStepToDetail(detail, { step: 'train', status: 'Running' }, '2026-01-01T00:00:02Z');
    const train = running.graph.nodes[1]!;
    expect(train).toMatchObject({ status: 'Running', startedAt: '2026-01-01T00:00:02Z', endedAt: null });
    expect(running.graph.edges).toBe(detail.graph.edges);
    expect(running.graph.nodes[0]).toBe(detail.graph.nodes[0]);
    const done = applyStepToDetail(running, { step: 'train', status: 'Failed' }, '2026-01-01T00:00:05Z');
    expect(done.graph.nodes[1]).toMatchObject({
      status: 'Failed',
      startedAt: '2026-01-01T00:00:02Z',
      endedAt: '2026-01-01T00:00:05Z',
    });
  });

  it('change nothing for a status the step already has or an unknown step', () => {
    expect(applyStepToDetail(detail, { step: 'prep', status: 'Finished' }, 'now')).toBe(detail);
    expect(applyStepToDetail(detail, { step: 'nope', status: 'Running' }, 'now')).toBe(detail);
  });

  it('mark a reused step with the run it came from', () => {
    const reused = applyStepToDetail(
      detail,
      { step: 'train', status: 'Reused', reusedFrom: 'earlier' },
      'now',
    );
    expect(reused.graph.nodes[1]!.reusedFrom?.runId).toBe('earlier');
  });

  it('take a run summary without losing the graph', () => {
    const next = applyRunToDetail(detail, summary('r', { status: 'Finished' }));
    expect(next.status).toBe('Finished');
    expect(next.graph).toBe(detail.graph);
  });

  it('grow a log, never shrink it', () => {
    const step = { logs: { stdout: 10, stderr: 0, sluice: 5 } } as StepDetail;
    const event = { type: 'log', runId: 'r', step: 'train', stream: 'stdout', size: 20 } as const;
    expect(applyLogToStep(step, event).logs.stdout).toBe(20);
    expect(applyLogToStep(step, { ...event, size: 3 })).toBe(step);
  });
});
