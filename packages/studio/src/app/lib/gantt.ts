/** The scale of a run's timeline: each step a bar from its start to its end (or now, while it runs). */

export interface TimedStep {
  id: string;
  startedAt?: string | null;
  endedAt?: string | null;
}

export interface GanttBar {
  id: string;
  /** Offset and width as fractions of the timeline (0…1). */
  left: number;
  width: number;
  /** Milliseconds from its start to its end (or now). */
  duration: number;
  running: boolean;
}

export interface GanttScale {
  start: number;
  end: number;
  bars: GanttBar[];
  /** Tick marks: milliseconds since the start, at a round step. */
  ticks: number[];
}

const TICK_STEPS = [
  100, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
  1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000,
];

/** A round tick step that gives at most `count` ticks over `span` milliseconds. */
export function tickStep(span: number, count = 8): number {
  return TICK_STEPS.find((step) => span / step <= count) ?? Math.ceil(span / count);
}

/**
 * The bars of the steps that started, ordered by start; steps that never started are left out. The timeline
 * spans from the first start to the last end (or `now` when a step still runs); a bar is at least 0.2% wide so
 * an instant step stays visible.
 */
export function ganttScale(steps: readonly TimedStep[], now: number): GanttScale {
  const timed = steps
    .filter((step) => step.startedAt)
    .map((step) => {
      const from = Date.parse(step.startedAt!);
      const to = step.endedAt ? Date.parse(step.endedAt) : now;
      return { id: step.id, from, to: Math.max(from, to), running: !step.endedAt };
    })
    .filter((step) => !Number.isNaN(step.from) && !Number.isNaN(step.to))
    .sort((a, b) => a.from - b.from || a.id.localeCompare(b.id));
  if (timed.length === 0) return { start: now, end: now, bars: [], ticks: [] };
  const start = Math.min(...timed.map((step) => step.from));
  const end = Math.max(...timed.map((step) => step.to));
  const span = Math.max(1, end - start);
  const bars = timed.map((step) => ({
    id: step.id,
    left: (step.from - start) / span,
    width: Math.max(0.002, (step.to - step.from) / span),
    duration: step.to - step.from,
    running: step.running,
  }));
  const stepSize = tickStep(span);
  const ticks: number[] = [];
  for (let tick = 0; tick <= span; tick += stepSize) ticks.push(tick);
  return { start, end, bars, ticks };
}
