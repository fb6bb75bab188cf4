import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { Chart } from '../components/Chart.js';
import { Loaded } from '../components/common.js';
import { api } from '../lib/api.js';
import { formatTime, formatValue } from '../lib/format.js';
import { href } from '../lib/route.js';
import { navigate } from '../lib/use-route.js';

/** A metric over an experiment's runs, oldest first. */
export function MetricsPage({
  experiment,
  metric,
}: {
  experiment?: string | undefined;
  metric?: string | undefined;
}) {
  const experiments = useQuery({ queryKey: ['experiments'], queryFn: api.experiments });
  const names = useQuery({
    queryKey: ['metric-names', experiment],
    queryFn: () => api.metricNames(experiment!),
    enabled: Boolean(experiment),
  });
  const chosen = metric ?? names.data?.names[0];
  const go = (name: string | undefined, metricName?: string) =>
    navigate(
      href(
        name ? ['experiments', name, 'metrics'] : ['experiments'],
        metricName ? `name=${encodeURIComponent(metricName)}` : '',
      ),
    );
  return (
    <div>
      <h1>Metrics</h1>
      <div className="filters">
        <label>
          Experiment
          <select value={experiment ?? ''} onChange={(event) => go(event.target.value || undefined)}>
            <option value="">choose…</option>
            {experiments.data?.map((entry) => (
              <option key={entry.name} value={entry.name}>
                {entry.name} ({entry.runs} runs)
              </option>
            ))}
          </select>
        </label>
        {experiment && (
          <label>
            Metric
            <select value={chosen ?? ''} onChange={(event) => go(experiment, event.target.value)}>
              {names.data?.names.map((name) => (
                <option key={name}>{name}</option>
              ))}
            </select>
          </label>
        )}
      </div>
      {experiment && (
        <Loaded query={names}>
          {(data) =>
            data.names.length === 0 ? (
              <div className="muted">The runs of {experiment} logged no metric.</div>
            ) : chosen ? (
              <MetricOverRuns experiment={experiment} name={chosen} />
            ) : null
          }
        </Loaded>
      )}
    </div>
  );
}

function MetricOverRuns({ experiment, name }: { experiment: string; name: string }) {
  const points = useQuery({
    queryKey: ['metric-points', experiment, name],
    queryFn: () => api.metricPoints(experiment, name),
  });
  const numeric = useMemo(
    () => (points.data ?? []).filter((point) => typeof point.value === 'number'),
    [points.data],
  );
  const x = useMemo(() => numeric.map((_, index) => index + 1), [numeric]);
  const series = useMemo(
    () => [{ label: name, values: numeric.map((point) => point.value as number) }],
    [name, numeric],
  );
  return (
    <Loaded query={points}>
      {(data) => (
        <>
          {numeric.length > 1 ? (
            <Chart x={x} series={series} xLabel="run (oldest first)" height={280} />
          ) : (
            <div className="muted">A chart needs two numeric values or more.</div>
          )}
          <table className="grid-table">
            <thead>
              <tr>
                <th>#</th>
                <th>Run</th>
                <th>Step</th>
                <th>Started</th>
                <th>{name}</th>
              </tr>
            </thead>
            <tbody>
              {data.map((point, index) => (
                <tr key={`${point.runId}/${point.step}/${index}`}>
                  <td>{index + 1}</td>
                  <td>
                    <a className="mono" href={href(['runs', point.runId])}>
                      {point.runId}
                    </a>
                  </td>
                  <td>{point.step}</td>
                  <td>{formatTime(point.createdAt)}</td>
                  <td>{formatValue(point.value)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Loaded>
  );
}
