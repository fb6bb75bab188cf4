import type { RunDetail } from '@sluice/publish';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ErrorBox, KeyValues, Section, Status } from '../components/common.js';
import { RunGraph } from '../components/Graph.js';
import { Timeline } from '../components/Timeline.js';
import { api, ApiError } from '../lib/api.js';
import { isTerminal } from '../lib/cache.js';
import { durationBetween, formatDuration, formatTime } from '../lib/format.js';
import { href } from '../lib/route.js';
import { useEvents } from '../lib/use-events.js';
import { useNow } from '../lib/use-now.js';
import { StepPanel } from './Step.js';

export function RunPage({ runId, step }: { runId: string; step?: string | undefined }) {
  useEvents(runId);
  const run = useQuery({ queryKey: ['run', runId], queryFn: () => api.run(runId) });
  if (run.isError) {
    // a run just submitted waits in the server's queue before its record exists; its run event brings it
    if (run.error instanceof ApiError && run.error.code === 'RUN_NOT_FOUND') {
      return (
        <div data-testid="run-waiting">
          <ErrorBox error={run.error} />
          <p className="muted">
            A run just submitted waits in the server's queue; this page shows it as it starts.
          </p>
        </div>
      );
    }
    return <ErrorBox error={run.error} />;
  }
  if (!run.data) return <div className="muted">Loading…</div>;
  return <RunView run={run.data} step={step} />;
}

function RunView({ run, step }: { run: RunDetail; step?: string | undefined }) {
  const live = !isTerminal(run.status);
  const now = useNow(live);
  const [tab, setTab] = useState<'timeline' | 'parameters' | 'git'>('timeline');
  return (
    <div className={`run-page${step ? ' with-panel' : ''}`}>
      <RunHeader run={run} now={now} />
      <div className="run-body">
        <div className="run-main">
          <RunGraph run={run} selected={step} />
          <div className="tabs">
            {(['timeline', 'parameters', 'git'] as const).map((name) => (
              <button
                key={name}
                type="button"
                className={tab === name ? 'tab active' : 'tab'}
                onClick={() => setTab(name)}
              >
                {name === 'timeline' ? 'Timeline' : name === 'parameters' ? 'Parameters & tags' : 'Git'}
              </button>
            ))}
          </div>
          {tab === 'timeline' && <Timeline nodes={run.graph.nodes} now={now} runId={run.id} />}
          {tab === 'parameters' && (
            <div className="columns">
              <Section title="Parameters">
                <KeyValues record={run.parameters} />
              </Section>
              <Section title="Tags">
                <KeyValues record={run.tags} />
              </Section>
              <Section title="Options">
                <KeyValues record={run.options} />
              </Section>
            </div>
          )}
          {tab === 'git' && <GitInfo git={run.git} />}
        </div>
        {step && <StepPanel runId={run.id} step={step} />}
      </div>
    </div>
  );
}

function RunHeader({ run, now }: { run: RunDetail; now: number }) {
  const client = useQueryClient();
  const whoami = useQuery({ queryKey: ['whoami'], queryFn: api.whoami, staleTime: Infinity });
  const cancel = useMutation({
    mutationFn: () => api.cancelRun(run.id),
    onSuccess: () => client.invalidateQueries({ queryKey: ['run', run.id] }),
  });
  const duration = durationBetween(run.startedAt, run.endedAt, now);
  return (
    <div className="run-head">
      <div className="run-title">
        <Status status={run.status} />
        <h1 className="mono">{run.id}</h1>
        <span className="muted">
          {run.experiment} / {run.pipelineName}
        </span>
      </div>
      <div className="run-facts">
        <span>Started {formatTime(run.startedAt ?? run.createdAt)}</span>
        <span>Duration {duration === null ? '—' : formatDuration(duration)}</span>
        <span>
          Steps: {run.steps.ran} ran, {run.steps.reused} reused, {run.steps.failed} failed of{' '}
          {run.steps.total}
        </span>
        <span>
          {run.runSource}
          {run.submittedBy ? ` by ${run.submittedBy}` : ''}
        </span>
        {run.published && (
          <span>
            Published{' '}
            {run.published.endpoint ? (
              <a href={href(['endpoints'])}>
                {run.published.endpoint}
                {run.published.version ? ` v${run.published.version}` : ''}
              </a>
            ) : (
              <a href={href(['pipelines'])}>{run.published.pipelineId}</a>
            )}
          </span>
        )}
        <a href={href(['compare'], new URLSearchParams({ a: run.id, b: '' }).toString())}>Compare…</a>
        {!isTerminal(run.status) && whoami.data?.scope === 'submit' && (
          <button
            type="button"
            className="small danger"
            onClick={() => cancel.mutate()}
            disabled={cancel.isPending}
          >
            Cancel run
          </button>
        )}
      </div>
      {run.description && <p className="muted">{run.description}</p>}
      {run.error && <div className="error">{run.error}</div>}
      {cancel.isError && <ErrorBox error={cancel.error} />}
    </div>
  );
}

function GitInfo({ git }: { git: RunDetail['git'] }) {
  const entries = Object.entries(git);
  if (entries.length === 0) return <div className="muted">No git information was recorded.</div>;
  return (
    <table className="grid-table">
      <thead>
        <tr>
          <th>Source folder</th>
          <th>Repository</th>
          <th>Branch</th>
          <th>Commit</th>
          <th>Dirty</th>
        </tr>
      </thead>
      <tbody>
        {entries.map(([folder, record]) => (
          <tr key={folder}>
            <td className="mono">{folder}</td>
            {record ? (
              <>
                <td className="mono">{record.repository}</td>
                <td>{record.branch ?? '—'}</td>
                <td className="mono">{record.commit?.slice(0, 12) ?? '—'}</td>
                <td>{record.dirty ? 'yes' : 'no'}</td>
              </>
            ) : (
              <td colSpan={4} className="muted">
                not a git repository
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
