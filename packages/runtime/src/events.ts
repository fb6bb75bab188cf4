import type { RunStatus, StepStatus } from './store.js';

/** What a running pipeline reports as it goes. */
export type RunEvent =
  | { type: 'run-status'; runId: string; status: RunStatus; error?: string }
  | {
      type: 'step-status';
      runId: string;
      step: string;
      stepRunId: string;
      status: StepStatus;
      reusedFrom?: string;
      error?: string;
    }
  | { type: 'step-log'; runId: string; step: string; stream: 'stdout' | 'stderr' | 'sluice'; text: string }
  /** What a step is doing before it runs, e.g. building its environment (one line, no newline). */
  | { type: 'step-progress'; runId: string; step: string; text: string };

export type RunEventListener = (event: RunEvent) => void;

/** A small synchronous event fan-out; a listener that throws does not disturb the run. */
export class RunEvents {
  readonly #listeners = new Set<RunEventListener>();

  on(listener: RunEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: RunEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // listeners are observers; their failures are theirs
      }
    }
  }
}
