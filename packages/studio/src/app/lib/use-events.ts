import type { RunDetail, StepDetail, StudioEvent } from '@sluice/publish';
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import {
  applyLogToStep,
  applyRunToDetail,
  applyRunToPages,
  applyStepToDetail,
  isTerminal,
  type RunPages,
} from './cache.js';
import { parseFilters } from './filters.js';

/** Apply one server event to the cached answers. */
export function applyEvent(client: QueryClient, event: StudioEvent): void {
  if (event.type === 'run') {
    for (const [key, data] of client.getQueriesData<RunPages>({ queryKey: ['runs'] })) {
      if (!data) continue;
      const filters = parseFilters(String(key[1] ?? ''));
      client.setQueryData<RunPages>(key, applyRunToPages(data, event.run, filters));
    }
    const detail = client.getQueryData<RunDetail>(['run', event.run.id]);
    if (detail) {
      client.setQueryData<RunDetail>(['run', event.run.id], applyRunToDetail(detail, event.run));
      // once it ends, read it again: step times, errors and explanations as the server records them
      if (isTerminal(event.run.status) && !isTerminal(detail.status)) {
        void client.invalidateQueries({ queryKey: ['run', event.run.id] });
        void client.invalidateQueries({ queryKey: ['explain', event.run.id] });
      }
    } else {
      // a run page waiting for a run the server had not started yet
      void client.invalidateQueries({ queryKey: ['run', event.run.id] });
    }
  } else if (event.type === 'step') {
    const detail = client.getQueryData<RunDetail>(['run', event.runId]);
    if (detail) {
      client.setQueryData<RunDetail>(
        ['run', event.runId],
        applyStepToDetail(detail, event, new Date().toISOString()),
      );
    }
    void client.invalidateQueries({ queryKey: ['step', event.runId, event.step] });
  } else if (event.type === 'log') {
    const step = client.getQueryData<StepDetail>(['step', event.runId, event.step]);
    if (step) client.setQueryData<StepDetail>(['step', event.runId, event.step], applyLogToStep(step, event));
  }
}

const EVENT_TYPES = ['run', 'step', 'log'] as const;

/** Listen to the server's events (all runs, or one run's steps and logs) while the component is shown. */
export function useEvents(runId?: string): void {
  const client = useQueryClient();
  useEffect(() => {
    const source = new EventSource(runId ? `events?run=${encodeURIComponent(runId)}` : 'events', {
      withCredentials: true,
    });
    const onEvent = (message: MessageEvent<string>) => {
      try {
        const data = JSON.parse(message.data) as Record<string, unknown>;
        applyEvent(client, { type: message.type, ...data } as StudioEvent);
      } catch {
        // a malformed event changes nothing
      }
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, onEvent);
    // after a lost connection (the browser reconnects by itself) read again what events may have been missed
    let lost = false;
    source.onerror = () => {
      lost = true;
      // refused for good (the session ended with the server): ask who is signed in, which may show the sign-in
      if (source.readyState === EventSource.CLOSED) void client.invalidateQueries({ queryKey: ['whoami'] });
    };
    source.onopen = () => {
      if (!lost) return;
      lost = false;
      void client.invalidateQueries({ queryKey: runId ? ['run', runId] : ['runs'] });
    };
    return () => source.close();
  }, [client, runId]);
}
