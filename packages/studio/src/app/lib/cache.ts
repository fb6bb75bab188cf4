/**
 * How the studio's cached answers change on a server event, as pure functions over the cached values (the
 * TanStack Query cache holds them; `use-events.ts` applies these). No event makes the studio poll.
 */
import type { ApiStepStatus, RunDetail, RunList, RunSummary, StepDetail, StudioEvent } from '@sluice/publish';
import { matchesFilters, type RunFilters } from './filters.js';

/** The pages of an infinite runs query, as TanStack Query keeps them. */
export interface RunPages {
  pages: RunList[];
  pageParams: unknown[];
}

const TERMINAL: ReadonlySet<string> = new Set(['Finished', 'Failed', 'Canceled', 'Skipped', 'Reused']);
export const isTerminal = (status: string | undefined) => status !== undefined && TERMINAL.has(status);

/**
 * A run event in a list: the run replaces its row where it is; a new run that matches the filters comes first
 * (lists are newest first); a run that no longer matches leaves the list.
 */
export function applyRunToPages(data: RunPages, run: RunSummary, filters: RunFilters): RunPages {
  const matches = matchesFilters(run, filters);
  let found = false;
  const pages = data.pages.map((page) => {
    const index = page.runs.findIndex((entry) => entry.id === run.id);
    if (index < 0) return page;
    found = true;
    const runs = matches
      ? page.runs.map((entry, at) => (at === index ? run : entry))
      : page.runs.filter((_, at) => at !== index);
    return { ...page, runs };
  });
  if (!found && matches && pages.length > 0) {
    const first = pages[0]!;
    pages[0] = { ...first, runs: [run, ...first.runs] };
  }
  return { ...data, pages };
}

/** A run event on a run's detail: its summary fields change, its graph stays. */
export function applyRunToDetail(detail: RunDetail, run: RunSummary): RunDetail {
  return { ...detail, ...run, graph: detail.graph };
}

/**
 * A step event on a run's detail: the step's node takes the new status; its start and end are noted from the
 * event's arrival until the detail is read again (when the run ends).
 */
export function applyStepToDetail(
  detail: RunDetail,
  event: { step: string; status: ApiStepStatus; reusedFrom?: string | null },
  now: string,
): RunDetail {
  let changed = false;
  const nodes = detail.graph.nodes.map((node) => {
    if (node.type !== 'step' || node.id !== event.step || node.status === event.status) return node;
    changed = true;
    const next = { ...node, status: event.status };
    if (event.status === 'Running' && !node.startedAt) next.startedAt = now;
    if (isTerminal(event.status) && !node.endedAt) {
      next.endedAt = now;
      if (event.status !== 'Reused' && !node.startedAt) next.startedAt = now;
    }
    if (event.reusedFrom && !node.reusedFrom) next.reusedFrom = { stepRunId: '', runId: event.reusedFrom };
    return next;
  });
  return changed ? { ...detail, graph: { ...detail.graph, nodes } } : detail;
}

/** A log event on a step's detail: the log's size grows. */
export function applyLogToStep(step: StepDetail, event: Extract<StudioEvent, { type: 'log' }>): StepDetail {
  if (step.logs[event.stream] >= event.size) return step;
  return { ...step, logs: { ...step.logs, [event.stream]: event.size } };
}
