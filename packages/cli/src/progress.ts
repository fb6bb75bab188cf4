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
  const started = Date.now();
  let frame = 0;
  const render = (): string => {
    const width = Math.max(...[...steps.keys()].map((name) => name.length));
    const lines = [...steps].map(([name, view]) => {
      const mark = view.status === 'Running' ? pc.yellow(SPINNER[frame % SPINNER.length]!) : '';
      const time =
        view.startedAt !== undefined ? formatMs((view.endedAt ?? Date.now()) - view.startedAt) : '';
      const label = mark ? `${mark} ${pc.yellow(view.status)}` : status(view.status);
      return `  ${name.padEnd(width)}  ${padVisible(label, 12)} ${pc.dim(time)}${view.note ? pc.dim(`  ${view.note}`) : ''}`;
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
      if (['Finished', 'Reused', 'Failed', 'Canceled', 'Skipped'].includes(event.status))
        view.endedAt = Date.now();
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
          `${MARKS[event.status] ?? ' '} ${event.step} ${event.status}${time}${view.note ? ` (${view.note})` : ''}\n`,
        );
      }
    } else if (event.type === 'step-log' && options.logs && event.stream !== 'sluice') {
      const text = event.text
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => `${pc.dim(`[${event.step}]`)} ${line}\n`)
        .join('');
      if (logUpdate) {
        logUpdate.clear();
        stream.write(text);
        logUpdate(render());
      } else stream.write(text);
    }
  });
  return () => {
    off();
    if (timer) clearInterval(timer);
    if (logUpdate) {
      logUpdate(render());
      logUpdate.done();
    }
  };
}
