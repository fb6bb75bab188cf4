import { createLogUpdate } from 'log-update';
import pc from 'picocolors';
import type { PipelineRun, RunEvent, StepStatus } from '@sluice/runtime';
import { MARKS, formatMs, padVisible, status } from './format.js';

interface StepView {
  status: StepStatus;
  startedAt?: number;
  endedAt?: number;
  note?: string;
}

const MAX_UNFINISHED = 64 * 1024;

/**
 * Step output arrives in chunks that may end inside a line: each step keeps the unfinished line of each
 * of its streams until the rest of it arrives or the step ends, so one line is never printed as two.
 */
class LineBuffers {
  /** step → stream → its unfinished line */
  readonly #partial = new Map<string, Map<string, string>>();

  /** The complete, non-empty lines this chunk ends; the unfinished rest is kept. */
  add(step: string, stream: string, text: string): string[] {
    const streams = this.#partial.get(step) ?? new Map<string, string>();
    const pieces = `${streams.get(stream) ?? ''}${text}`.split(/\r?\n/);
    let rest = pieces.pop()!;
    // a line that never ends (a progress bar redrawn with \r) is printed once it grows this long
    if (rest.length > MAX_UNFINISHED) {
      pieces.push(rest);
      rest = '';
    }
    if (rest) streams.set(stream, rest);
    else streams.delete(stream);
    if (streams.size > 0) this.#partial.set(step, streams);
    else this.#partial.delete(step);
    return pieces.filter((line) => line.length > 0);
  }

  /** The unfinished lines of a step (one per stream), each as a line of its own. */
  flush(step: string): string[] {
    const rest = [...(this.#partial.get(step)?.values() ?? [])];
    this.#partial.delete(step);
    return rest;
  }

  /** The steps with an unfinished line. */
  steps(): string[] {
    return [...this.#partial.keys()];
  }
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * Live progress of a run: a redrawn table of steps on a terminal, one line per change otherwise (CI logs,
 * pipes). With `logs`, step output is printed as it comes.
 */
export function showProgress(
  run: PipelineRun,
  options: { logs?: boolean; stream?: NodeJS.WriteStream; interactive?: boolean } = {},
): () => void {
  const stream = options.stream ?? process.stdout;
  const interactive = options.interactive ?? Boolean(stream.isTTY && !process.env.CI);
  const steps = new Map<string, StepView>();
  for (const step of run.getSteps()) steps.set(step.name, { status: step.status });
  // steps are shown by their names as given ("Hello World"), events name them by id
  const labels = new Map(run.getGraph().nodes.map((node) => [node.name, node.displayName ?? node.name]));
  const label = (step: string): string => labels.get(step) ?? step;
  const started = Date.now();
  let frame = 0;
  const render = (): string => {
    const width = Math.max(...[...steps.keys()].map((name) => label(name).length));
    const lines = [...steps].map(([name, view]) => {
      const mark = view.status === 'Running' ? pc.yellow(SPINNER[frame % SPINNER.length]!) : '';
      const time =
        view.startedAt !== undefined ? formatMs((view.endedAt ?? Date.now()) - view.startedAt) : '';
      const state = mark ? `${mark} ${pc.yellow(view.status)}` : status(view.status);
      return `  ${label(name).padEnd(width)}  ${padVisible(state, 12)} ${pc.dim(time)}${view.note ? pc.dim(`  ${view.note}`) : ''}`;
    });
    const done = [...steps.values()].filter((view) =>
      ['Finished', 'Reused', 'Failed', 'Canceled', 'Skipped'].includes(view.status),
    ).length;
    return [
      `${pc.bold(run.id)}  ${done}/${steps.size} steps  ${formatMs(Date.now() - started)}`,
      ...lines,
    ].join('\n');
  };
  const logUpdate = interactive ? createLogUpdate(stream) : undefined;
  const unfinished = new LineBuffers();
  const logLine = (step: string, line: string): string => `${pc.dim(`[${label(step)}]`)} ${line}\n`;
  /** Print step output above the live table (or in sequence, without one). */
  const print = (printed: string[]): void => {
    if (printed.length === 0) return;
    if (logUpdate) {
      logUpdate.clear();
      stream.write(printed.join(''));
      logUpdate(render());
    } else stream.write(printed.join(''));
  };
  const timer = interactive
    ? setInterval(() => {
        frame += 1;
        logUpdate!(render());
      }, 100)
    : undefined;
  const off = run.on((event: RunEvent) => {
    if (event.type === 'step-status') {
      const view = steps.get(event.step) ?? { status: event.status };
      view.status = event.status;
      if (event.status === 'Running' || event.status === 'Reused') view.startedAt ??= Date.now();
      if (['Finished', 'Reused', 'Failed', 'Canceled', 'Skipped'].includes(event.status)) {
        view.endedAt = Date.now();
        // what the step printed last without a newline, before the line that says it ended
        print(unfinished.flush(event.step).map((line) => logLine(event.step, line)));
      }
      if (event.reusedFrom) view.note = `from ${event.reusedFrom}`;
      if (event.error && event.status !== 'Skipped') view.note = event.error;
      steps.set(event.step, view);
      if (logUpdate) logUpdate(render());
      else {
        const time =
          view.startedAt !== undefined && view.endedAt !== undefined
            ? ` ${formatMs(view.endedAt - view.startedAt)}`
            : '';
        stream.write(
          `${MARKS[event.status] ?? ' '} ${label(event.step)} ${event.status}${time}${view.note ? ` (${view.note})` : ''}\n`,
        );
      }
    } else if (event.type === 'step-log' && options.logs && event.stream !== 'sluice') {
      print(unfinished.add(event.step, event.stream, event.text).map((line) => logLine(event.step, line)));
    }
  });
  return () => {
    off();
    for (const step of unfinished.steps()) print(unfinished.flush(step).map((line) => logLine(step, line)));
    if (timer) clearInterval(timer);
    if (logUpdate) {
      logUpdate(render());
      logUpdate.done();
    }
  };
}
