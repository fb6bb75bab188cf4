/** The run watcher behind `GET /events`, looking rarely: what happens between two looks is still told in order. */
import type { StudioEvent } from '../api-types.js';
import { Experiment } from '@sluice/runtime';
import { describe, expect, it } from 'vitest';
import { RunWatcher } from '../events.js';
import { fixture, onCleanup } from './helpers.js';

describe('RunWatcher', () => {
  it('tells that a run and its steps ran, when they started and ended between two looks', async () => {
    const f = await fixture();
    // one look every 3 s: the seed pipeline's quick steps start and end between two of them
    const watcher = new RunWatcher(f.ws, { intervalMs: 3000 });
    onCleanup(() => watcher.close());
    const events: StudioEvent[] = [];
    let ended!: () => void;
    const finished = new Promise<void>((resolve) => (ended = resolve));
    watcher.subscribe((event) => {
      events.push(event);
      if (event.type === 'run' && event.run.status === 'Finished') ended();
    });
    const run = await new Experiment(f.ws, 'exp').submit(f.pipeline());
    await run.waitForCompletion();
    await finished;

    const runStatuses = events.flatMap((event) => (event.type === 'run' ? [event.run.status] : []));
    expect(runStatuses).toEqual(['Running', 'Finished']);
    for (const step of ['prepare', 'compare']) {
      const statuses = events.flatMap((event) =>
        event.type === 'step' && event.step === step ? [event.status] : [],
      );
      expect(statuses.indexOf('Running'), `${step}: ${statuses.join(' → ')}`).toBeGreaterThanOrEqual(0);
      expect(statuses.at(-1)).toBe('Finished');
      expect(statuses.indexOf('Running')).toBeLessThan(statuses.indexOf('Finished'));
    }
  });
});
