import type { RunSummary } from '@sluice/publish';
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useRef, useState } from 'react';
import { ErrorBox, Status } from '../components/common.js';
import { api } from '../lib/api.js';
import { filtersToQuery, parseFilters, type RunFilters } from '../lib/filters.js';
import { durationBetween, formatDuration, formatTime } from '../lib/format.js';
import { href } from '../lib/route.js';
import { useEvents } from '../lib/use-events.js';
import { navigate } from '../lib/use-route.js';

const PAGE_SIZE = 100;
const ROW_HEIGHT = 34;
const STATUSES = ['Queued', 'NotStarted', 'Running', 'Finished', 'Failed', 'Canceled'];
const SOURCES = ['SDK', 'CLI', 'REST', 'Schedule'];

export function RunsPage({ query }: { query: URLSearchParams }) {
  const filters = parseFilters(query);
  const key = filtersToQuery(filters);
  useEvents();
  const runs = useInfiniteQuery({
    queryKey: ['runs', key],
    queryFn: ({ pageParam }) =>
      api.runs(filters, { limit: PAGE_SIZE, ...(pageParam ? { before: pageParam } : {}) }),
    initialPageParam: '',
    getNextPageParam: (last) => last.next,
  });
  const rows = runs.data?.pages.flatMap((page) => page.runs) ?? [];
  return (
    <div className="runs-page">
      <div className="page-head">
        <h1>Runs</h1>
        <CompareLink />
      </div>
      <FilterBar key={key} filters={filters} />
      {runs.isError && <ErrorBox error={runs.error} />}
      <RunTable rows={rows} loading={runs.isPending} />
      <div className="below-table">
        <span className="muted">
          {rows.length} run{rows.length === 1 ? '' : 's'}
          {runs.hasNextPage ? ' shown' : ''}
        </span>
        {runs.hasNextPage && (
          <button type="button" onClick={() => void runs.fetchNextPage()} disabled={runs.isFetchingNextPage}>
            {runs.isFetchingNextPage ? 'Loading…' : 'Load more'}
          </button>
        )}
      </div>
    </div>
  );
}

function CompareLink() {
  const [a, setA] = useState('');
  const [b, setB] = useState('');
  return (
    <form
      className="inline-form"
      onSubmit={(event) => {
        event.preventDefault();
        navigate(href(['compare'], new URLSearchParams({ a, b }).toString()));
      }}
    >
      <input placeholder="run A" value={a} onChange={(event) => setA(event.target.value)} size={14} />
      <input placeholder="run B" value={b} onChange={(event) => setB(event.target.value)} size={14} />
      <button type="submit" disabled={!a || !b}>
        Compare
      </button>
    </form>
  );
}

function FilterBar({ filters }: { filters: RunFilters }) {
  const experiments = useQuery({ queryKey: ['experiments'], queryFn: api.experiments });
  const set = (change: Partial<RunFilters>) =>
    navigate(href(['runs'], filtersToQuery({ ...filters, ...change })));
  const [pipeline, setPipeline] = useState(filters.pipeline ?? '');
  const [tag, setTag] = useState(filters.tag ?? '');
  return (
    <form
      className="filters"
      onSubmit={(event) => {
        event.preventDefault();
        set({ pipeline, tag });
      }}
    >
      <label>
        Experiment
        <select
          value={filters.experiment ?? ''}
          onChange={(event) => set({ experiment: event.target.value })}
        >
          <option value="">all</option>
          {experiments.data?.map((experiment) => (
            <option key={experiment.name} value={experiment.name}>
              {experiment.name} ({experiment.runs})
            </option>
          ))}
          {filters.experiment && !experiments.data?.some((entry) => entry.name === filters.experiment) && (
            <option value={filters.experiment}>{filters.experiment}</option>
          )}
        </select>
      </label>
      <label>
        Status
        <select value={filters.status ?? ''} onChange={(event) => set({ status: event.target.value })}>
          <option value="">all</option>
          {STATUSES.map((status) => (
            <option key={status}>{status}</option>
          ))}
        </select>
      </label>
      <label>
        Source
        <select value={filters.source ?? ''} onChange={(event) => set({ source: event.target.value })}>
          <option value="">all</option>
          {SOURCES.map((source) => (
            <option key={source}>{source}</option>
          ))}
        </select>
      </label>
      <label>
        Pipeline
        <input value={pipeline} onChange={(event) => setPipeline(event.target.value)} placeholder="name" />
      </label>
      <label>
        Tag
        <input value={tag} onChange={(event) => setTag(event.target.value)} placeholder="key:value" />
      </label>
      <button type="submit">Apply</button>
      {filtersToQuery(filters) && (
        <button
          type="button"
          onClick={() => {
            setPipeline('');
            setTag('');
            navigate(href(['runs']));
          }}
        >
          Clear
        </button>
      )}
    </form>
  );
}

const COLUMNS = 'runs-grid';

function RunTable({ rows, loading }: { rows: RunSummary[]; loading: boolean }) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  return (
    <div className="table" data-testid="runs-table" role="table">
      <div className={`${COLUMNS} thead`} role="row">
        <span>Status</span>
        <span>Run</span>
        <span>Experiment / pipeline</span>
        <span>Started</span>
        <span>Duration</span>
        <span title="ran / reused / failed of all steps">Steps</span>
        <span>Source</span>
        <span>By</span>
      </div>
      <div className="tbody" ref={scroller}>
        {rows.length === 0 && <div className="muted empty">{loading ? 'Loading…' : 'No runs.'}</div>}
        <div style={{ height: virtual.getTotalSize(), position: 'relative' }}>
          {virtual.getVirtualItems().map((item) => {
            const run = rows[item.index]!;
            return (
              <a
                key={run.id}
                href={href(['runs', run.id])}
                className={`${COLUMNS} row`}
                data-testid="run-row"
                data-run={run.id}
                data-status={run.status}
                role="row"
                style={{ transform: `translateY(${item.start}px)`, height: ROW_HEIGHT }}
              >
                <span>
                  <Status status={run.status} />
                </span>
                <span className="mono ellipsis" title={run.id}>
                  {run.id}
                </span>
                <span className="ellipsis">
                  {run.experiment} <span className="muted">/ {run.pipelineName}</span>
                </span>
                <span>{formatTime(run.startedAt ?? run.createdAt)}</span>
                <span>{formatDuration(durationBetween(run.startedAt, run.endedAt) ?? NaN)}</span>
                <span className="steps">
                  <span className="n-ran" title="ran">
                    {run.steps.ran}
                  </span>
                  /
                  <span className="n-reused" title="reused">
                    {run.steps.reused}
                  </span>
                  /
                  <span className={run.steps.failed ? 'n-failed' : ''} title="failed">
                    {run.steps.failed}
                  </span>
                  <span className="muted"> of {run.steps.total}</span>
                </span>
                <span>{run.runSource}</span>
                <span className="ellipsis">{run.submittedBy ?? '—'}</span>
              </a>
            );
          })}
        </div>
      </div>
    </div>
  );
}
