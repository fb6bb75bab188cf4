import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  RunStore,
  TERMINAL_STEP_STATUSES,
  type PipelineRunRecord,
  type StepRunRecord,
  type Workspace,
} from '@sluice/runtime';
import type { StudioEvent } from './api-types.js';
import { logFolder, runSummaries } from './read-api.js';

/** How often the watcher asks SQLite whether anything changed (`PRAGMA data_version`, one cheap call). */
export const WATCH_INTERVAL_MS = 250;
/** A comment line keeps idle event streams open through proxies. */
export const KEEPALIVE_MS = 15_000;
const LOG_STREAMS = ['stdout', 'stderr', 'sluice'] as const;
const ENDED_RUN = new Set(['Finished', 'Failed', 'Canceled']);
/** Step statuses a step reaches by running (so it was Running before, however briefly). */
const RAN_AND_ENDED = new Set(['Finished', 'Failed', 'Canceled']);

type Listener = (event: StudioEvent) => void;

/** A running step and its log folder, for log growth. */
interface RunningStep {
  runId: string;
  step: string;
  stepRunId: string;
  folder: string;
}

interface Seen {
  runs: Map<string, string>;
  steps: Map<string, string>;
  logs: Map<string, number>;
}

/** What a run and its steps looked like, to tell what changed: status, times and step statuses. */
function runKey(run: PipelineRunRecord, steps: readonly StepRunRecord[]): string {
  return [run.status, run.startedAt, run.endedAt, ...steps.map((step) => step.status)].join('|');
}

/**
 * One watcher per server, shared by every event stream: while a client listens it polls
 * `PRAGMA data_version` on its own connection to the run store; when another connection (this server's
 * runs, another process) has committed, one query reads the runs that are new or not yet ended and their
 * steps, and the changes go out as `run` and `step` events. The logs of running steps are looked at on
 * each tick too, and grow as `log` events (sizes only). Clients never poll.
 */
export class RunWatcher {
  readonly #ws: Workspace;
  readonly #listeners = new Set<Listener>();
  #reader: RunStore | undefined;
  #timer: NodeJS.Timeout | undefined;
  #version = -1;
  #lastRowid = 0;
  /** Runs not ended at the last look (their changes are looked for at each change). */
  #watched: string[] = [];
  #seen: Seen = { runs: new Map(), steps: new Map(), logs: new Map() };
  /** Running steps and their log folders, for log growth. */
  #running: RunningStep[] = [];
  #ticking = false;
  readonly #intervalMs: number;

  /** `intervalMs`: how often it looks at the store while a client listens (default 250). */
  constructor(ws: Workspace, options: { intervalMs?: number } = {}) {
    this.#ws = ws;
    this.#intervalMs = options.intervalMs ?? WATCH_INTERVAL_MS;
  }

  /** Receive every event from now on; returns the function that stops it. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    if (!this.#timer) this.#start();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  close(): void {
    this.#listeners.clear();
    this.#stop();
  }

  #start(): void {
    this.#reader = new RunStore(this.#ws.store.file);
    this.#version = this.#reader.dataVersion();
    this.#lastRowid = this.#reader.lastRunRowid();
    this.#watched = [];
    // the first look is the baseline: what exists now is not news
    this.#look(false);
    this.#timer = setInterval(() => void this.#tick(), this.#intervalMs);
    this.#timer.unref();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#reader?.close();
    this.#reader = undefined;
    this.#seen = { runs: new Map(), steps: new Map(), logs: new Map() };
    this.#running = [];
  }

  async #tick(): Promise<void> {
    if (this.#ticking || !this.#reader) return;
    this.#ticking = true;
    try {
      const version = this.#reader.dataVersion();
      if (version !== this.#version) {
        this.#version = version;
        this.#look(true);
      }
      await this.#lookAtLogs();
    } catch {
      // the store is busy or closing: the next tick looks again
    } finally {
      this.#ticking = false;
    }
  }

  /** Read the runs that may have changed and send what did. */
  #look(emit: boolean): void {
    const reader = this.#reader!;
    const { runs, steps } = reader.changedRuns(this.#lastRowid, this.#watched);
    const stepsOf = new Map<string, StepRunRecord[]>();
    for (const step of steps) stepsOf.set(step.runId, [...(stepsOf.get(step.runId) ?? []), step]);
    const changed: PipelineRunRecord[] = [];
    /** Runs that started and ended between two looks: a client is told they ran before it is told they ended. */
    const startedUnseen = new Set<string>();
    const events: StudioEvent[] = [];
    const running: RunningStep[] = [];
    for (const run of runs) {
      this.#lastRowid = Math.max(this.#lastRowid, run.rowid);
      const own = stepsOf.get(run.id) ?? [];
      const key = runKey(run, own);
      if (this.#seen.runs.get(run.id) !== key) changed.push(run);
      const was = this.#seen.runs.get(run.id)?.split('|')[0];
      if (was !== 'Running' && ENDED_RUN.has(run.status) && run.startedAt) startedUnseen.add(run.id);
      this.#seen.runs.set(run.id, key);
      for (const step of own) {
        if (this.#seen.steps.get(step.id) !== step.status) {
          const reused = step.reusedFrom ? reader.getStepRun(step.reusedFrom) : undefined;
          // a step that ran and ended between two looks: its Running comes first
          const before = this.#seen.steps.get(step.id);
          if (before !== 'Running' && step.startedAt && RAN_AND_ENDED.has(step.status)) {
            events.push({
              type: 'step',
              runId: run.id,
              step: step.stepName,
              status: 'Running',
              reusedFrom: null,
            });
          }
          events.push({
            type: 'step',
            runId: run.id,
            step: step.stepName,
            status: step.status,
            reusedFrom: step.reusedFrom ? (reused?.runId ?? null) : null,
          });
          this.#seen.steps.set(step.id, step.status);
        }
        const folder = logFolder(this.#ws, step);
        if (step.status === 'Running' && folder)
          running.push({ runId: run.id, step: step.stepName, stepRunId: step.id, folder });
        if (TERMINAL_STEP_STATUSES.includes(step.status)) {
          for (const stream of LOG_STREAMS) this.#seen.logs.delete(`${step.id}/${stream}`);
        }
      }
      if (ENDED_RUN.has(run.status)) {
        for (const step of own) this.#seen.steps.delete(step.id);
      }
    }
    for (const id of this.#watched) if (!runs.some((run) => run.id === id)) this.#seen.runs.delete(id);
    this.#watched = runs.filter((run) => !ENDED_RUN.has(run.status)).map((run) => run.id);
    for (const run of runs) if (ENDED_RUN.has(run.status)) this.#seen.runs.delete(run.id);
    this.#running = running;
    if (!emit) return;
    const summaries = runSummaries(this.#ws, changed);
    for (const summary of summaries) {
      if (startedUnseen.has(summary.id)) {
        this.#send({ type: 'run', run: { ...summary, status: 'Running', endedAt: null } });
      }
      this.#send({ type: 'run', run: summary });
    }
    for (const event of events) this.#send(event);
  }

  async #lookAtLogs(): Promise<void> {
    for (const { runId, step, stepRunId, folder } of this.#running) {
      for (const stream of LOG_STREAMS) {
        const size = (await stat(join(folder, `${stream}.txt`)).catch(() => undefined))?.size;
        if (size === undefined) continue;
        const key = `${stepRunId}/${stream}`;
        if (this.#seen.logs.get(key) === size) continue;
        this.#seen.logs.set(key, size);
        this.#send({ type: 'log', runId, step, stream, size });
      }
    }
  }

  #send(event: StudioEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // a stream that cannot take it any more is ended by its own close
      }
    }
  }
}

/** The run an event is about. */
function runOf(event: StudioEvent): string {
  return event.type === 'run' ? event.run.id : event.runId;
}

/**
 * A `text/event-stream` response of a watcher's events (of one run, when given): `retry: 2000` first, then
 * `event: <type>` / `data: <json>` per event and a `: keepalive` comment every 15 s. It ends when the client
 * goes away or `signal` aborts (the server closes).
 */
export function eventStream(watcher: RunWatcher, runId: string | undefined, signal: AbortSignal): Response {
  const encoder = new TextEncoder();
  let stop = (): void => undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const write = (text: string): void => controller.enqueue(encoder.encode(text));
      write('retry: 2000\n\n');
      const unsubscribe = watcher.subscribe((event) => {
        if (runId !== undefined && runOf(event) !== runId) return;
        write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      });
      const keepalive = setInterval(() => write(': keepalive\n\n'), KEEPALIVE_MS);
      keepalive.unref();
      stop = () => {
        clearInterval(keepalive);
        unsubscribe();
        signal.removeEventListener('abort', end);
      };
      const end = (): void => {
        stop();
        try {
          controller.close();
        } catch {
          // already closed
        }
      };
      if (signal.aborted) end();
      else signal.addEventListener('abort', end, { once: true });
    },
    cancel() {
      stop();
    },
  });
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    },
  });
}
