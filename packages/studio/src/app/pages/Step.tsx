import type { ExplanationDetail, MetricValue, OutputDetail, StepDetail } from '@sluice/publish';
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { Chart } from '../components/Chart.js';
import { ErrorBox, KeyValues, Loaded, Section, Status } from '../components/common.js';
import { LogView } from '../components/LogView.js';
import { api, type LogStream } from '../lib/api.js';
import { isTerminal } from '../lib/cache.js';
import { durationBetween, formatBytes, formatDuration, formatTime, formatValue } from '../lib/format.js';
import { href } from '../lib/route.js';

const STREAMS: LogStream[] = ['stdout', 'stderr', 'sluice'];

/** A step of a run: why it ran, its logs, metrics, outputs and where it ran. */
export function StepPanel({ runId, step }: { runId: string; step: string }) {
  const detail = useQuery({ queryKey: ['step', runId, step], queryFn: () => api.step(runId, step) });
  return (
    <aside className="step-panel" data-testid="step-panel" data-step={step}>
      <div className="panel-close">
        <a href={href(['runs', runId])} title="Close">
          ×
        </a>
      </div>
      <Loaded query={detail}>{(data) => <StepBody step={data} />}</Loaded>
    </aside>
  );
}

function StepBody({ step }: { step: StepDetail }) {
  const running = !isTerminal(step.status);
  const [stream, setStream] = useState<LogStream>(() =>
    step.status === 'Failed' && step.logs.stderr ? 'stderr' : 'stdout',
  );
  const duration = durationBetween(step.startedAt, step.endedAt);
  return (
    <>
      <div className="step-head">
        <Status status={step.status} />
        <h2>{step.name}</h2>
        <span className="muted">{step.kind}</span>
      </div>
      <div className="facts">
        <span>Started {formatTime(step.startedAt)}</span>
        <span>Duration {duration === null ? '—' : formatDuration(duration)}</span>
        {step.exitCode !== null && <span>Exit code {step.exitCode}</span>}
        <span className="mono muted" title="step run id">
          {step.stepRunId}
        </span>
      </div>
      {step.error && <div className="error">{step.error}</div>}
      <Explanation explanation={step.explanation} />
      <Section
        title="Logs"
        actions={
          <div className="tabs" role="tablist" aria-label="Logs">
            {STREAMS.map((name) => (
              <button
                key={name}
                type="button"
                role="tab"
                aria-selected={stream === name}
                className={stream === name ? 'tab active' : 'tab'}
                onClick={() => setStream(name)}
                data-testid={`log-tab-${name}`}
              >
                {name} <span className="muted">{formatBytes(step.logs[name])}</span>
              </button>
            ))}
          </div>
        }
      >
        <LogView
          runId={step.runId}
          step={step.name}
          stream={stream}
          size={step.logs[stream]}
          running={running}
        />
      </Section>
      <Metrics metrics={step.metrics} />
      <Outputs runId={step.runId} step={step.name} outputs={step.outputs} />
      <Section title="Compute and environment">
        <div className="facts">
          <span>
            Compute target:{' '}
            {step.computeTarget ? `${step.computeTarget.name} (${step.computeTarget.provider})` : '—'}
          </span>
        </div>
        {step.environment ? (
          <KeyValues record={step.environment} />
        ) : (
          <div className="muted">No environment.</div>
        )}
      </Section>
    </>
  );
}

/** Why the step ran or was reused, in words, with the earlier run it was compared with. */
export function Explanation({ explanation }: { explanation: ExplanationDetail }) {
  const earlier = explanation.reusedFrom ?? explanation.comparedWith;
  return (
    <div
      className={`explanation decision-${explanation.decision.replace(' ', '-').toLowerCase()}`}
      data-testid="explanation"
    >
      <strong>
        {explanation.decision === 'REUSED' ? 'Reused' : explanation.decision === 'RAN' ? 'Ran' : 'Not run'}
      </strong>
      {earlier && (
        <>
          {' '}
          — {explanation.reusedFrom ? 'from' : 'compared with'} run{' '}
          <a href={href(['runs', earlier.runId, 'steps', explanation.step])} className="mono">
            {earlier.runId}
          </a>
        </>
      )}
      {explanation.reasons.length > 0 && (
        <ul>
          {explanation.reasons.map((reason, index) => (
            <li key={index}>{reason}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Metrics by name: a chart for a series, a table row for a single value. */
export function Metrics({ metrics }: { metrics: MetricValue[] }) {
  const grouped = useMemo(() => {
    const map = new Map<string, MetricValue[]>();
    for (const metric of metrics) {
      const list = map.get(metric.name) ?? [];
      list.push(metric);
      map.set(metric.name, list);
    }
    return [...map];
  }, [metrics]);
  if (grouped.length === 0) return null;
  const single = grouped.filter(
    ([, values]) => values.length === 1 || !values.every((v) => typeof v.value === 'number'),
  );
  const series = grouped.filter(
    ([, values]) => values.length > 1 && values.every((v) => typeof v.value === 'number'),
  );
  return (
    <Section title="Metrics">
      {single.length > 0 && (
        <table className="kv">
          <tbody>
            {single.map(([name, values]) => (
              <tr key={name}>
                <th>{name}</th>
                <td>{values.map((value) => formatValue(value.value)).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {series.map(([name, values]) => (
        <MetricSeries key={name} name={name} values={values} />
      ))}
    </Section>
  );
}

function MetricSeries({ name, values }: { name: string; values: MetricValue[] }) {
  const x = useMemo(() => values.map((_, index) => index), [values]);
  const series = useMemo(
    () => [{ label: name, values: values.map((value) => value.value as number) }],
    [name, values],
  );
  return (
    <div className="metric-series">
      <h3>{name}</h3>
      <Chart x={x} series={series} xLabel="value #" />
    </div>
  );
}

function Outputs({ runId, step, outputs }: { runId: string; step: string; outputs: OutputDetail[] }) {
  if (outputs.length === 0) return null;
  return (
    <Section title="Outputs">
      {outputs.map((output) => (
        <OutputFiles key={output.name} runId={runId} step={step} output={output} />
      ))}
    </Section>
  );
}

function OutputFiles({ runId, step, output }: { runId: string; step: string; output: OutputDetail }) {
  const [open, setOpen] = useState(false);
  const files = useQuery({
    queryKey: ['files', runId, step, output.name],
    queryFn: () => api.outputFiles(runId, step, output.name),
    enabled: open && !output.deletedAt,
  });
  const base = api.outputFilesUrl(runId, step, output.name);
  return (
    <div className="output">
      <button type="button" className="link" onClick={() => setOpen(!open)}>
        {open ? '▾' : '▸'} {output.name}
      </button>{' '}
      <span className="muted">
        {output.type}, {formatBytes(output.bytes)}, {output.files} file{output.files === 1 ? '' : 's'} —{' '}
        <span className="mono">
          {output.datastore}:{output.path}
        </span>
        {output.deletedAt && ` (deleted ${formatTime(output.deletedAt)})`}
        {output.destination &&
          ` → ${output.destination.datastore}:${output.destination.path}${output.destination.current ? '' : ' (since replaced)'}`}
      </span>
      {open && files.isError && <ErrorBox error={files.error} />}
      {open && files.data && (
        <ul className="files">
          {files.data.files.map((file) => (
            <li key={file.path}>
              <a href={`${base}/${file.path.split('/').map(encodeURIComponent).join('/')}`} download>
                {file.path}
              </a>{' '}
              <span className="muted">{formatBytes(file.bytes)}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
