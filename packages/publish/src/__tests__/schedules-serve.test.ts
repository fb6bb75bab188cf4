import { describe, expect, it } from 'vitest';
import { PipelineEndpoint, Schedule, createRequestHandler, publishPipeline } from '../index.js';
import { fixture, until } from './helpers.js';

describe('schedules fired by the REST handler', () => {
  it('submit runs through the persistent queue, and a disabled pipeline’s schedule does not fire', async () => {
    const { ws, pipeline } = await fixture();
    const published = await publishPipeline(ws, pipeline(), { name: 'seed', version: '1' });
    const endpoint = await PipelineEndpoint.publish(ws, { name: 'nightly', pipeline: published });
    Schedule.create(ws, {
      name: 'every-minute',
      endpointName: endpoint.name,
      experimentName: 'scheduled',
      parameters: { pipeline_arg: 7 },
      recurrence: { frequency: 'Minute', interval: 1 },
    });
    const other = await publishPipeline(ws, pipeline(), { name: 'seed-off', version: '1' });
    other.disable();
    Schedule.create(ws, {
      name: 'never',
      pipelineId: other.id,
      experimentName: 'scheduled',
      recurrence: { frequency: 'Minute', interval: 1 },
    });
    const handler = createRequestHandler({ workspace: ws });
    try {
      await until(() => ws.store.listRuns().some((run) => run.status === 'Finished'), 60_000);
      const runs = ws.store.listRuns();
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({
        runSource: 'Schedule',
        parameters: { pipeline_arg: 7 },
        tags: { schedule: 'every-minute' },
      });
      expect(
        Schedule.get(ws, 'never')
          .firings()
          .map((firing) => firing.status),
      ).toEqual(['Skipped']);
    } finally {
      await handler.close();
    }
  });
});
