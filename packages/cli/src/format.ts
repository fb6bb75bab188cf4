import pc from 'picocolors';
import type { RunStatus, StepStatus } from '@sluice/runtime';

export function duration(startedAt: string | null, endedAt: string | null, now = Date.now()): string {
  if (!startedAt) return '';
  const ms = (endedAt ? Date.parse(endedAt) : now) - Date.parse(startedAt);
  return formatMs(ms);
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

const COLORS: Record<string, (text: string) => string> = {
  Finished: pc.green,
  Reused: pc.cyan,
  Running: pc.yellow,
  Queued: pc.dim,
  NotStarted: pc.dim,
  Failed: pc.red,
  Canceled: pc.magenta,
  Skipped: pc.dim,
};

export const MARKS: Record<string, string> = {
  Finished: '✔',
  Reused: '↺',
  Running: '▶',
  Queued: '…',
  NotStarted: '·',
  Failed: '✖',
  Canceled: '■',
  Skipped: '–',
};

export function status(value: StepStatus | RunStatus): string {
  return (COLORS[value] ?? ((text: string) => text))(`${MARKS[value] ?? ' '} ${value}`);
}

const ANSI = /\x1b\[[0-9;]*m/g; // eslint-disable-line no-control-regex
const visible = (text: string): number => text.replace(ANSI, '').length;

/** Pad to a width counted in visible characters (colour codes take no room). */
export function padVisible(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - visible(text)));
}

/** A plain text table with a header row (a name over every column); columns sized to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  if (headers.some((header) => header.trim() === ''))
    throw new Error('Every column of a table needs a header.');
  const widths = headers.map((header, column) =>
    Math.max(visible(header), ...rows.map((row) => visible(row[column] ?? ''))),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) =>
        column === cells.length - 1 ? cell : cell + ' '.repeat(widths[column]! - visible(cell)),
      )
      .join('  ')
      .trimEnd();
  return [pc.bold(line(headers)), ...rows.map(line)].join('\n');
}

/**
 * A timeline: one bar per step, placed by start and end time on the run's time axis.
 */
export function timeline(
  steps: Array<{ name: string; status: StepStatus; startedAt: string | null; endedAt: string | null }>,
  width = 40,
): string {
  const times = steps
    .flatMap((step) => [step.startedAt, step.endedAt])
    .filter(Boolean)
    .map((t) => Date.parse(t!));
  if (times.length === 0) return '(no step has started)';
  const start = Math.min(...times);
  const end = Math.max(...times, start + 1);
  const span = end - start;
  const nameWidth = Math.max(...steps.map((step) => step.name.length));
  const rows = steps.map((step) => {
    if (!step.startedAt)
      return `${step.name.padEnd(nameWidth)} │${' '.repeat(width)}│ ${status(step.status)}`;
    const from = Math.floor(((Date.parse(step.startedAt) - start) / span) * width);
    const to = step.endedAt ? Math.ceil(((Date.parse(step.endedAt) - start) / span) * width) : width;
    const length = Math.max(1, to - from);
    const bar =
      ' '.repeat(Math.min(from, width - 1)) +
      (step.status === 'Reused' ? '↺' : '█').repeat(Math.min(length, width - from));
    const color = COLORS[step.status] ?? ((text: string) => text);
    return `${step.name.padEnd(nameWidth)} │${color(bar.padEnd(width))}│ ${duration(step.startedAt, step.endedAt)}`;
  });
  return [...rows, `${' '.repeat(nameWidth)} └${'─'.repeat(width)}┘ ${formatMs(span)} total`].join('\n');
}

/** The pipeline graph as text: each step with the steps it depends on and the data that links them. */
export function drawGraph(
  graph: {
    nodes: Array<{ name: string; displayName?: string }>;
    edges: Array<{ from: string; to: string; data?: string }>;
  },
  statuses: Record<string, StepStatus> = {},
): string {
  const level = new Map<string, number>();
  for (const node of graph.nodes) {
    const parents = graph.edges
      .filter((edge) => edge.to === node.name)
      .map((edge) => level.get(edge.from) ?? 0);
    level.set(node.name, parents.length ? Math.max(...parents) + 1 : 0);
  }
  const lines: string[] = [];
  for (const node of graph.nodes) {
    const indent = '  '.repeat(level.get(node.name) ?? 0);
    const incoming = graph.edges.filter((edge) => edge.to === node.name);
    const from = incoming.length
      ? pc.dim(
          ` ← ${incoming.map((edge) => (edge.data ? `${edge.from}:${edge.data}` : `${edge.from} (runAfter)`)).join(', ')}`,
        )
      : '';
    const mark = statuses[node.name] ? `${status(statuses[node.name]!)} ` : '';
    lines.push(
      `${indent}${level.get(node.name) ? '└─ ' : ''}${mark}${pc.bold(node.displayName ?? node.name)}${from}`,
    );
  }
  return lines.join('\n');
}

/** A byte count in B, KiB, MiB, GiB or TiB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
