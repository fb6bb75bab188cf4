import { hostname } from 'node:os';
import { SluiceError } from '@sluice/core';
import type { PipelineRun, PipelineRunRecord, Workspace } from '@sluice/runtime';
import { PublishedPipeline, startPublishedRun } from './published-pipeline.js';
import { publishStore, type PublishStore, type QueueRecord, type QueuedSubmission } from './store.js';
import { newRunId } from './submission.js';

/**
 * The error the runtime gives a run whose runner process ended mid-run (Workspace opening marks such runs
 * Failed): these runs were interrupted, not failed by their steps, and are resumed.
 */
const INTERRUPTED = /runner process ended/;
const TERMINAL: readonly string[] = ['Finished', 'Failed', 'Canceled'];

export interface RunQueueOptions {
  /** How many queued runs execute at once in this process. */
  concurrency: number;
  /** How often to look for work queued by others and for interrupted runs to resume. */
  pollIntervalMs?: number;
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
 */
export class RunQueue {
  readonly #ws: Workspace;
  readonly #store: PublishStore;
  readonly #concurrency: number;
  readonly #timer: NodeJS.Timeout;
  readonly #submitting = new Set<Promise<unknown>>();
  #active = 0;
  #closed = false;

  constructor(ws: Workspace, options: RunQueueOptions) {
    this.#ws = ws;
    this.#store = publishStore(ws);
    this.#concurrency = Math.max(1, Math.floor(options.concurrency));
    this.#timer = setInterval(() => this.#tick(), options.pollIntervalMs ?? 1000);
    this.#timer.unref();
    // recover and start what earlier processes left, once the caller's code has run
    setImmediate(() => this.#tick());
  }

  /** Queue a submission; returns its run id. */
  accept(target: QueueTarget, submission: QueuedSubmission, acceptedBy: string | null): string {
    if (this.#closed) throw new SluiceError('RUN_STORE_ERROR', 'The run queue is closed.');
    const runId = this.#store.transaction(() => {
      let id = newRunId(submission.experimentName);
      while (this.#store.runIdTaken(id)) id = newRunId(submission.experimentName);
      this.#store.enqueue({ runId: id, ...target, submission, acceptedBy });
      return id;
    });
    this.#pump();
    return runId;
  }

  /** Stop taking queued rows. Runs already executing go on; submissions being started are awaited. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await Promise.allSettled([...this.#submitting]);
  }

  #tick(): void {
    if (this.#closed) return;
    try {
      this.#recover();
      this.#pump();
    } catch {
      // the store may be closing; the next tick tries again
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
        this.#store.resume(entry, this.#newRunId(entry.submission.experimentName));
      } else if (TERMINAL.includes(run.status)) {
        this.#store.setQueueStatus(entry.runId, 'done');
      }
    }
  }

  #newRunId(experiment: string): string {
    let id = newRunId(experiment);
    while (this.#store.runIdTaken(id)) id = newRunId(experiment);
    return id;
  }

  #pump(): void {
    while (!this.#closed && this.#active < this.#concurrency) {
      const entry = this.#store.claimNext();
      if (!entry) return;
      this.#active++;
      const submitting = this.#submit(entry);
      this.#submitting.add(submitting);
      void submitting
        .finally(() => this.#submitting.delete(submitting))
        .then((run) => run?.waitForCompletion())
        .then((status) => {
          if (status !== undefined) this.#store.setQueueStatus(entry.runId, 'done');
        })
        .catch(() => {
          // the workspace was closed under a running run; recovery sorts it out on the next start
        })
        .finally(() => {
          this.#active--;
          if (!this.#closed) this.#tick();
        });
    }
  }

  /** Start a claimed row's run; a row that cannot start is marked failed with the reason. */
  async #submit(entry: QueueRecord): Promise<PipelineRun | undefined> {
    const { submission } = entry;
    try {
      const published = PublishedPipeline.get(this.#ws, { id: entry.pipelineId });
      const run = await startPublishedRun(published, submission.experimentName, {
        parameters: submission.parameters,
        dataPathAssignments: submission.dataPathAssignments,
        runSource: submission.runSource,
        tags: submission.tags,
        continueOnStepFailure: submission.continueOnStepFailure,
        ...(submission.description === undefined ? {} : { description: submission.description }),
        runId: entry.runId,
      });
      this.#store.setQueueStatus(entry.runId, 'submitted');
      return run;
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
  }
}

function interrupted(run: PipelineRunRecord): boolean {
  return run.status === 'Failed' && INTERRUPTED.test(run.error ?? '');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
