import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Experiment, Workspace } from '@sluice/runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import sensorReportPipeline, { experimentName } from '../../pipeline.js';

let root: string;
let ws: Workspace;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-sensor-report-'));
  ws = Workspace.create(join(root, 'ws'));
});
afterEach(async () => {
  await ws.close();
  await rm(root, { recursive: true, force: true });
});

const statuses = (run: Awaited<ReturnType<Experiment['submit']>>): Record<string, string> =>
  Object.fromEntries(run.getSteps().map((step) => [step.name, step.status]));

describe('the sensor report pipeline (Python → Node.js → Python)', () => {
  it('runs every step, then reuses every step, then re-runs what a changed parameter reaches', async () => {
    const experiment = new Experiment(ws, experimentName);

    const first = await experiment.submit(sensorReportPipeline());
    expect(await first.waitForCompletion()).toBe('Finished');
    expect(statuses(first)).toEqual({ prepare: 'Finished', summarise: 'Finished', report: 'Finished' });

    const summarise = first.findStepRun('summarise');
    expect(await summarise.getStdout()).toContain('summarised 300 readings from 3 sensors');
    expect(summarise.getMetrics()).toEqual({ sensors: 3 });
    const summaryFolder = await summarise.getOutputData('summary').download(join(root, 'summary'));
    const summary = JSON.parse(await readFile(join(summaryFolder, 'summary.json'), 'utf8')) as {
      rows: number;
      sensors: Record<string, { count: number; temperature: { mean: number } }>;
    };
    expect(summary.rows).toBe(300);
    expect(Object.keys(summary.sensors).sort()).toEqual(['a', 'b', 'c']);
    expect(summary.sensors.a!.count).toBe(100);

    const reportFolder = await first
      .findStepRun('report')
      .getOutputData('report')
      .download(join(root, 'report'));
    const report = await readFile(join(reportFolder, 'report.md'), 'utf8');
    expect(report).toContain('# Sensor readings (300 rows)');
    expect(report).toContain('Warmest sensor: c.');
    expect(first.findStepRun('report').getMetrics()).toEqual({ warmest: 'c' });

    const second = await experiment.submit(sensorReportPipeline());
    expect(await second.waitForCompletion()).toBe('Finished');
    expect(statuses(second)).toEqual({ prepare: 'Reused', summarise: 'Reused', report: 'Reused' });
    expect(second.findStepRun('summarise').reusedFrom).toBe(summarise.id);

    const third = await experiment.submit(sensorReportPipeline(), { parameters: { rows: 30 } });
    expect(await third.waitForCompletion()).toBe('Finished');
    expect(statuses(third)).toEqual({ prepare: 'Finished', summarise: 'Finished', report: 'Finished' });
    expect(third.findStepRun('prepare').explain().reasons).toEqual(['parameter rows 300 → 30']);
    expect(third.findStepRun('summarise').explain().reasons.join('\n')).toMatch(/input readings/);
  });
});
