import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ErrorBox, Section, Status } from '../components/common.js';
import { api } from '../lib/api.js';
import { compareSteps, lastMetrics, sideBySide, type SideBySide } from '../lib/compare.js';
import { formatValue } from '../lib/format.js';
import { href } from '../lib/route.js';
import { navigate } from '../lib/use-route.js';

export function ComparePage({ a, b }: { a: string; b: string }) {
  if (!a || !b) return <ChooseRuns a={a} b={b} />;
  return <Comparison a={a} b={b} />;
}

function ChooseRuns({ a: first, b: second }: { a: string; b: string }) {
  const [a, setA] = useState(first);
  const [b, setB] = useState(second);
  return (
    <form
      className="filters"
      onSubmit={(event) => {
        event.preventDefault();
        navigate(href(['compare'], new URLSearchParams({ a, b }).toString()));
      }}
    >
      <h1>Compare two runs</h1>
      <label>
        Run A <input value={a} onChange={(event) => setA(event.target.value)} size={36} />
      </label>
      <label>
        Run B <input value={b} onChange={(event) => setB(event.target.value)} size={36} />
      </label>
      <button type="submit" className="primary" disabled={!a || !b}>
        Compare
      </button>
    </form>
  );
}

function useRunData(id: string) {
  const detail = useQuery({ queryKey: ['run', id], queryFn: () => api.run(id) });
  const explain = useQuery({ queryKey: ['explain', id], queryFn: () => api.explain(id) });
  const metrics = useQuery({ queryKey: ['run-metrics', id], queryFn: () => api.runMetrics(id) });
  return { detail, explain, metrics };
}

function Comparison({ a, b }: { a: string; b: string }) {
  const left = useRunData(a);
  const right = useRunData(b);
  const failed = [left.detail, left.explain, left.metrics, right.detail, right.explain, right.metrics].find(
    (query) => query.isError,
  );
  if (failed) return <ErrorBox error={failed.error} />;
  if (!left.detail.data || !right.detail.data || !left.explain.data || !right.explain.data)
    return <div className="muted">Loading…</div>;
  const runA = left.detail.data;
  const runB = right.detail.data;
  const steps = compareSteps(runA, left.explain.data, runB, right.explain.data);
  const metrics = sideBySide(lastMetrics(left.metrics.data ?? []), lastMetrics(right.metrics.data ?? []));
  return (
    <div className="compare" data-testid="compare">
      <h1>Compare</h1>
      <table className="grid-table compare-head">
        <thead>
          <tr>
            <th />
            <th>
              A{' '}
              <a href={href(['runs', runA.id])} className="mono">
                {runA.id}
              </a>
            </th>
            <th>
              B{' '}
              <a href={href(['runs', runB.id])} className="mono">
                {runB.id}
              </a>
            </th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <th>Status</th>
            <td>
              <Status status={runA.status} />
            </td>
            <td>
              <Status status={runB.status} />
            </td>
          </tr>
          <tr>
            <th>Experiment / pipeline</th>
            <td>
              {runA.experiment} / {runA.pipelineName}
            </td>
            <td>
              {runB.experiment} / {runB.pipelineName}
            </td>
          </tr>
        </tbody>
      </table>
      <Section title="Parameters">
        <SideTable rows={sideBySide(runA.parameters, runB.parameters)} />
      </Section>
      <Section title="Metrics (last value)">
        <SideTable rows={metrics} />
      </Section>
      <Section title={`Steps (${steps.filter((step) => step.differs).length} differ)`}>
        <table className="grid-table">
          <thead>
            <tr>
              <th>Step</th>
              <th>A</th>
              <th>B</th>
            </tr>
          </thead>
          <tbody>
            {steps.map((step) => (
              <tr key={step.step} className={step.differs ? 'differs' : ''} data-testid="compare-step">
                <th>{step.step}</th>
                {[step.a, step.b].map((side, index) => (
                  <td key={index}>
                    {side ? (
                      <>
                        <Status status={side.status} /> <strong>{side.decision}</strong>
                        {step.differs && side.reasons.length > 0 && (
                          <ul className="reasons">
                            {side.reasons.map((reason, at) => (
                              <li key={at}>{reason}</li>
                            ))}
                          </ul>
                        )}
                      </>
                    ) : (
                      <span className="muted">not in this run</span>
                    )}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </div>
  );
}

function SideTable({ rows }: { rows: SideBySide[] }) {
  if (rows.length === 0) return <div className="muted">None.</div>;
  return (
    <table className="grid-table">
      <thead>
        <tr>
          <th>Name</th>
          <th>A</th>
          <th>B</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.key} className={row.differs ? 'differs' : ''}>
            <th>
              {row.key}
              {row.differs && (
                <span className="diff-mark" title="differs">
                  {' '}
                  ≠
                </span>
              )}
            </th>
            <td>{formatValue(row.a)}</td>
            <td>{formatValue(row.b)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
