import type { PipelineRunRecord, StepRun } from '@sluice/runtime';
import { duration, status } from './format.js';

/** One table row per step run: name, status, time, and where it was reused from or why it failed. */
export function stepRows(steps: StepRun[]): string[][] {
  return steps.map((step) => {
    const record = step.record;
    const note = record.reusedFrom
      ? `from ${record.reusedFrom}`
      : record.status === 'Failed' || record.status === 'Canceled'
        ? (record.error ?? '')
        : '';
    return [step.displayName, status(record.status), duration(record.startedAt, record.endedAt), note];
  });
}

/** A run as the `--json` output of `run`, `runs` and `show` gives it. */
export function runSummary(record: PipelineRunRecord): Record<string, unknown> {
  return {
    id: record.id,
    experiment: record.experiment,
    pipeline: record.pipelineName,
    status: record.status,
    runSource: record.runSource,
    submittedBy: record.submittedBy,
    createdAt: record.createdAt,
    startedAt: record.startedAt,
    endedAt: record.endedAt,
    parameters: record.parameters,
    tags: record.tags,
    error: record.error,
  };
}
