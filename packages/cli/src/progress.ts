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
const ENDED: ReadonlySet<string> = new Set(['Finished', 'Reused', 'Failed', 'Canceled', 'Skipped']);
/** How often the live table is redrawn at most (changes in between are drawn together). */
const FRAME_MS = 100;
/** How many of the steps that ended last the collapsed table shows. */
const RECENT = 3;

/**
 * The live table of a run's steps, kept so that drawing a frame costs O(terminal rows), never O(steps): the
 * counts by status, the running steps and the failed ones are kept up to date as events come (O(1) each);
 * when every step fits on the terminal the whole table is drawn, else a summary: the counts, the running
 * steps, the failed ones and the last few that ended.
 */
export class ProgressTable {
  readonly #views = new Map<string, StepView>();
  readonly #label: (step: string) => string;
  readonly #counts = new Map<string, number>();
  readonly #running = new Set<string>();
  readonly #failed: string[] = [];
  readonly #recent: string[] = [];
  #ended = 0;
  readonly #width: number;

  constructor(steps: Iterable<[string, StepStatus]>, label: (step: string) => string) {
    this.#label = label;
    let width = 0;
    for (const [name, status] of steps) {
      this.#views.set(name, { status });
      this.#count(status, 1);
      if (ENDED.has(status)) this.#ended += 1;
      width = Math.max(width, label(name).length);
    }
    this.#width = width;
  }

  get size(): number {
    return this.#views.size;
  }

  /** A step's view (created for a step the run did not list). */
  view(step: string): StepView {
    let view = this.#views.get(step);
    if (!view) {
      view = { status: 'NotStarted' };
      this.#views.set(step, view);
      this.#count(view.status, 1);
    }
    return view;
  }

  /** A step changed status: O(1), whatever the number of steps. */
  update(step: string, status: StepStatus, now: number): StepView {
    const view = this.view(step);
    if (view.status !== status) {
      this.#count(view.status, -1);
      this.#count(status, 1);
      if (ENDED.has(status) && !ENDED.has(view.status)) this.#ended += 1;
      view.status = status;
    }
    if (status === 'Running' || status === 'Reused') view.startedAt ??= now;
    if (status === 'Running') this.#running.add(step);
    else this.#running.delete(step);
    if (ENDED.has(status)) {
      view.endedAt = now;
      if (status === 'Failed') this.#failed.push(step);
      this.#recent.push(step);
      if (this.#recent.length > RECENT) this.#recent.shift();
    }
    return view;
  }

  /** One frame: at most `rows` lines (the whole table when it fits), built from the kept state only. */
  render(options: { runId: string; elapsedMs: number; frame: number; rows: number; now: number }): string {
    const header = `${pc.bold(options.runId)}  ${this.#ended}/${this.#views.size} steps  ${formatMs(options.elapsedMs)}`;
    const line = (name: string): string => {
      const view = this.#views.get(name)!;
      const mark = view.status === 'Running' ? pc.yellow(SPINNER[options.frame % SPINNER.length]!) : '';
      const time =
        view.startedAt !== undefined ? formatMs((view.endedAt ?? options.now) - view.startedAt) : '';
      const state = mark ? `${mark} ${pc.yellow(view.status)}` : status(view.status);
      return `  ${this.#label(name).padEnd(this.#width)}  ${padVisible(state, 12)} ${pc.dim(time)}${view.note ? pc.dim(`  ${view.note}`) : ''}`;
    };
    const room = Math.max(3, options.rows - 1);
    if (this.#views.size <= room) return [header, ...[...this.#views.keys()].map(line)].join('\n');
    // more steps than rows: the counts, then what a person looks for, as many as fit
    const counts = [...this.#counts]
      .filter(([, count]) => count > 0)
      .map(([state, count]) => `${count} ${state.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()}`)
      .join(', ');
    const shown: string[] = [];
    const room2 = room - 1;
    const add = (names: Iterable<string>): void => {
      for (const name of names) {
        if (shown.length >= room2) return;
        if (!shown.includes(name)) shown.push(name);
      }
    };
    add(this.#failed.slice(0, room2));
    add(this.#running);
    add([...this.#recent].reverse());
    return [header, pc.dim(`  ${counts}`), ...shown.map(line)].join('\n');
  }

  #count(status: string, by: number): void {
    this.#counts.set(status, (this.#counts.get(status) ?? 0) + by);
  }
}

/**
 * Live progress of a run: a table of steps redrawn at most every 100 ms on a terminal (a summary when the steps
 * outnumber its rows), one line per change otherwise (CI logs, pipes). With `logs`, step output is printed as
 * it comes.
 */
export function showProgress(
  run: PipelineRun,
  options: { logs?: boolean; stream?: NodeJS.WriteStream; interactive?: boolean } = {},
): () => void {
  const stream = options.stream ?? process.stdout;
  const interactive = options.interactive ?? Boolean(stream.isTTY && !process.env.CI);
  // steps are shown by their names as given ("Hello World"), events name them by id
  const labels = new Map(run.getGraph().nodes.map((node) => [node.name, node.displayName ?? node.name]));
  const label = (step: string): string => labels.get(step) ?? step;
  const table = new ProgressTable(
    run.getSteps().map((step) => [step.name, step.status] as [string, StepStatus]),
    label,
  );
  const started = Date.now();
  let frame = 0;
  const render = (): string =>
    table.render({
      runId: run.id,
      elapsedMs: Date.now() - started,
      frame,
      rows: stream.rows ?? 24,
      now: Date.now(),
    });
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
  // a terminal is redrawn on a clock, not per event: a burst of a thousand changes is one frame
  const timer = interactive
    ? setInterval(() => {
        frame += 1;
        logUpdate!(render());
      }, FRAME_MS)
    : undefined;
  if (logUpdate) logUpdate(render());
  const off = run.on((event: RunEvent) => {
    if (event.type === 'step-status') {
      const view = table.update(event.step, event.status, Date.now());
      if (ENDED.has(event.status)) {
        // what the step printed last without a newline, before the line that says it ended
        print(unfinished.flush(event.step).map((line) => logLine(event.step, line)));
      }
      if (event.reusedFrom) view.note = `from ${event.reusedFrom}`;
      if (event.error && event.status !== 'Skipped') view.note = event.error;
      if (!logUpdate) {
        const time =
          view.startedAt !== undefined && view.endedAt !== undefined
            ? ` ${formatMs(view.endedAt - view.startedAt)}`
            : '';
        stream.write(
          `${MARKS[event.status] ?? ' '} ${label(event.step)} ${event.status}${time}${view.note ? ` (${view.note})` : ''}\n`,
        );
      }
    } else if (event.type === 'step-progress') {
      // e.g. an environment being built: the step's note until it runs, a line of its own without a table
      table.view(event.step).note = event.text;
      if (!logUpdate) stream.write(`  ${label(event.step)}: ${event.text}\n`);
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
