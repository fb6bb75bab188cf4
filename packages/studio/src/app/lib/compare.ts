/** Two runs side by side: what differs in their parameters, metrics and steps. */
import type { ExplanationDetail, MetricValue, RunDetail } from '@sluice/publish';

export interface SideBySide {
  key: string;
  a: unknown;
  b: unknown;
  differs: boolean;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Every key of either record, sorted, with both values and whether they differ. */
export function sideBySide(a: Record<string, unknown>, b: Record<string, unknown>): SideBySide[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.map((key) => ({ key, a: a[key], b: b[key], differs: !same(a[key], b[key]) }));
}

/** The last value of each metric, by `step/name` (a metric logged more than once ends where it ended). */
export function lastMetrics(metrics: ReadonlyArray<MetricValue & { step: string }>): Record<string, unknown> {
  const last: Record<string, unknown> = {};
  for (const metric of metrics) last[`${metric.step}/${metric.name}`] = metric.value;
  return last;
}

export interface StepComparison {
  step: string;
  a: { status: string; decision: string; reasons: string[] } | null;
  b: { status: string; decision: string; reasons: string[] } | null;
  /** The steps did different work: one ran where the other reused, failed, or is missing. */
  differs: boolean;
}

/**
 * The steps of both runs, in the order of run A's graph then B's own: each with its status, decision and
 * reasons in both runs, and whether they differ.
 */
export function compareSteps(
  runA: Pick<RunDetail, 'graph'>,
  explainA: ExplanationDetail[],
  runB: Pick<RunDetail, 'graph'>,
  explainB: ExplanationDetail[],
): StepComparison[] {
  const side = (run: Pick<RunDetail, 'graph'>, explain: ExplanationDetail[]) => {
    const reasons = new Map(explain.map((entry) => [entry.step, entry]));
    const map = new Map<string, { status: string; decision: string; reasons: string[] }>();
    for (const node of run.graph.nodes) {
      if (node.type !== 'step') continue;
      const entry = reasons.get(node.id);
      map.set(node.id, {
        status: node.status ?? entry?.status ?? 'NotStarted',
        decision: entry?.decision ?? '—',
        reasons: entry?.reasons ?? [],
      });
    }
    return map;
  };
  const a = side(runA, explainA);
  const b = side(runB, explainB);
  const steps = [...new Set([...a.keys(), ...b.keys()])];
  return steps.map((step) => {
    const left = a.get(step) ?? null;
    const right = b.get(step) ?? null;
    const differs = !left || !right || left.status !== right.status || left.decision !== right.decision;
    return { step, a: left, b: right, differs };
  });
}
