import { hostname } from 'node:os';
import { SluiceError } from '@sluice/core';
import type { PipelineRun, PipelineRunRecord, Workspace } from '@sluice/runtime';
import { withDatasets } from './dataset-assignments.js';
import { PublishedPipeline, startPublishedRun } from './published-pipeline.js';
import { publishStore, type PublishStore, type QueueRecord, type QueuedSubmission } from './store.js';
import { newRunId } from './submission.js';

/** How long a closing queue lets running steps finish before canceling them, by default. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;

/** The reason recorded on runs a closing queue cancels; the next queue on the workspace resumes them. */
const SHUT_DOWN = 'the server shut down before the run finished';
/**
 * The error the runtime gives a run whose runner process ended mid-run (Workspace opening marks such runs
 * Failed): these runs were interrupted, not failed by their steps, and are resumed.
 */
const RUNNER_ENDED = /runner process ended/;
const TERMINAL: readonly string[] = ['Finished', 'Failed', 'Canceled'];

export interface RunQueueOptions {
  /** How many queued runs execute at once in this process. */
  concurrency: number;
  /** How often to look for work queued by others and for interrupted runs to resume. */
  pollIntervalMs?: number;
}

export interface CloseOptions {
  /** How long running steps may still finish before they are canceled (default 30 000 ms). */
  graceMs?: number;
}

/** What a submission was accepted for. */
export interface QueueTarget {
  pipelineId: string;
  endpoint: string | null;
  endpointVersion: string | null;
}

/**
 * The persistent queue of REST submissions. Accepting writes one row (its run id allocated) in one
 * transaction; workers in this process take rows in order, up to `concurrency` runs at a time, and submit
 * them under the accepted run id. Rows whose worker process died are recovered: not yet started → queued
 * again; interrupted mid-run → resubmitted under a new run id (`resumedAs`), so finished steps are reused.
 * Closing the queue stops taking rows and cancels its runs after a grace period; they are resumed the same
 * way, at once.
 */
export class RunQueue {
  readonly #ws: Workspace;
  readonly #store: PublishStore;
  readonly #concurrency: number;
  readonly #timer: NodeJS.Timeout;
  /** Each taken row, from claiming it to recording how its run ended. */
  readonly #working = new Set<Promise<void>>();
  readonly #live = new Set<PipelineRun>();
  #closed = false;
  #closing: Promise<void> | undefined;
  #graceEnds: number | undefined;

  constructor(ws: Workspace, options: RunQueueOptions) {
    this.#ws = ws;
    this.#store = publishStore(ws);
    this.#concurrency = Math.max(1, Math.floor(options.concurrency));
    this.#timer = setInterval(() => this.#tick(), options.pollIntervalMs ?? 1000);
    this.#timer.unref();
    // recover and start what earlier processes left, once the caller's code has run
    setImmediate(() => this.#tick());
  }

  /** Queue a submission; returns its run id. A closed queue keeps the row for the next server. */
  accept(target: QueueTarget, submission: QueuedSubmission, acceptedBy: string | null): string {
    const runId = this.#store.transaction(() => {
      let id = newRunId(submission.experimentName);
      while (this.#store.runIdTaken(id)) id = newRunId(submission.experimentName);
      this.#store.enqueue({ runId: id, ...target, submission, acceptedBy });
      return id;
    });
    try {
      this.#pump();
    } catch {
      // the store is busy: the row is kept, and the next tick takes it
    }
    return runId;
  }

  /**
   * Stop taking queued rows and shut down: running steps may finish within `graceMs`, then what still runs
   * is canceled (recorded Canceled) and queued again under a new run id, so the next server on the
   * workspace takes it up and reuses the steps that finished. Rows not started stay queued. Resolves when
   * every run of this queue has ended and been recorded; a second call with a shorter grace (0: now)
   * shortens it.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    const ends = Date.now() + Math.max(0, options.graceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
    if (this.#graceEnds === undefined || ends < this.#graceEnds) {
      this.#graceEnds = ends;
      for (const run of this.#live) this.#stop(run);
    }
    this.#closing ??= (async () => {
      while (this.#working.size > 0) await Promise.allSettled([...this.#working]);
    })();
    return this.#closing;
  }

  /** Cancel a run this queue executes (resolves once it has ended); false when it executes no such run. */
  async cancel(runId: string): Promise<boolean> {
    const run = [...this.#live].find((candidate) => candidate.id === runId);
    if (!run) return false;
    await run.cancel();
    return true;
  }

  /** Cancel a run of this closing queue once the grace period is over (running steps may finish first). */
  #stop(run: PipelineRun): void {
    const graceMs = Math.max(0, (this.#graceEnds ?? 0) - Date.now());
    void run.cancel({ graceMs, reason: SHUT_DOWN }).catch(() => undefined);
  }

  #tick(): void {
    if (this.#closed) return;
    try {
      this.#recover();
      this.#pump();
    } catch {
      // the store may be busy or closing; the next tick tries again
    }
  }

  /** Put right the rows of worker processes that are gone. */
  #recover(): void {
    const host = hostname();
    for (const entry of this.#store.ownedEntries()) {
      if (entry.ownerHost !== host || entry.ownerPid === null) continue;
      if (entry.ownerPid === process.pid || isAlive(entry.ownerPid)) continue;
      let run = this.#ws.store.getRun(entry.runId);
      if (!run) {
        // its worker died before the run was created: start it again under the same id
        this.#store.setQueueStatus(entry.runId, 'queued', { ownerless: true });
        continue;
      }
      if (!TERMINAL.includes(run.status)) {
        this.#ws.store.recoverAbandonedRuns();
        run = this.#ws.store.getRun(entry.runId)!;
      }
      if (interrupted(run)) {
        this.#resume(entry, run);
      } else if (TERMINAL.includes(run.status)) {
        this.#store.setQueueStatus(entry.runId, 'done');
      }
    }
  }

  /** Queue an interrupted run's submission again under a new run id, recording why the run stopped. */
  #resume(entry: QueueRecord, run: PipelineRunRecord): void {
    let id = newRunId(entry.submission.experimentName);
    while (this.#store.runIdTaken(id)) id = newRunId(entry.submission.experimentName);
    this.#store.resume(entry, id, {
      code: run.status === 'Canceled' ? 'RUN_CANCELED' : 'RUN_FAILED',
      message: run.error ?? `the run was ${run.status.toLowerCase()}`,
    });
  }

  #pump(): void {
    while (!this.#closed && this.#working.size < this.#concurrency) {
      const entry = this.#store.claimNext();
      if (!entry) return;
      const working = this.#work(entry)
        .catch(() => {
          // the store was closed under the row; recovery sorts it out on the next start
        })
        .finally(() => {
          this.#working.delete(working);
          this.#tick();
        });
      this.#working.add(working);
    }
  }

  /** Start a claimed row's run, wait for it to end and record how it ended. */
  async #work(entry: QueueRecord): Promise<void> {
    const run = await this.#submit(entry);
    if (!run) return;
    this.#live.add(run);
    let status;
    try {
      if (this.#closed) this.#stop(run);
      status = await run.waitForCompletion({ raiseOnError: false });
    } finally {
      this.#live.delete(run);
    }
    const record = this.#ws.store.getRun(run.id);
    if (status === 'Canceled' && record && interrupted(record)) this.#resume(entry, record);
    else this.#store.setQueueStatus(entry.runId, 'done');
  }

  /** Start a claimed row's run; a row that cannot start is marked failed with the reason. */
  async #submit(entry: QueueRecord): Promise<PipelineRun | undefined> {
    const { submission } = entry;
    let run: PipelineRun;
    try {
      const published = withDatasets(
        PublishedPipeline.get(this.#ws, { id: entry.pipelineId }),
        submission.datasetAssignments,
      );
      run = await startPublishedRun(published, submission.experimentName, {
        parameters: submission.parameters,
        dataPathAssignments: submission.dataPathAssignments,
        runSource: submission.runSource,
        tags: submission.tags,
        continueOnStepFailure: submission.continueOnStepFailure,
        ...(submission.description === undefined ? {} : { description: submission.description }),
        runId: entry.runId,
        ...(entry.acceptedBy === null ? {} : { submittedBy: entry.acceptedBy }),
      });
    } catch (error) {
      const code = error instanceof SluiceError ? error.code : 'INTERNAL_ERROR';
      const message = error instanceof Error ? error.message : String(error);
      try {
        this.#store.setQueueStatus(entry.runId, 'failed', { error: { code, message } });
      } catch {
        // the store is closed; the row stays starting and is recovered by the next process
      }
      return undefined;
    }
    try {
      this.#store.setQueueStatus(entry.runId, 'submitted');
    } catch {
      // the row stays starting; recovery finds its run by the row's run id
    }
    return run;
  }
}

/** A run stopped by its runner process dying, or canceled by a server shutting down: it is resumed. */
function interrupted(run: PipelineRunRecord): boolean {
  if (run.status === 'Failed') return RUNNER_ENDED.test(run.error ?? '');
  return run.status === 'Canceled' && run.error === SHUT_DOWN;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
