import { mkdtempSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SluiceError } from '@sluice/core';
import { Workspace } from '@sluice/runtime';
import {
  Schedule,
  createScheduler,
  type CreateScheduleOptions,
  type ScheduleTarget,
  type ScheduledSubmission,
  type SchedulerOptions,
} from '../schedules/index.js';

let dir: string;
let ws: Workspace;
const opened: Workspace[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-scheduler-'));
  ws = open();
  // Schedule.create and enable() read the system clock; the scheduler gets its own clock below
  vi.useFakeTimers({ toFake: ['Date'] });
});

afterEach(async () => {
  vi.useRealTimers();
  for (const workspace of opened.splice(0)) await workspace.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The test's workspace, created at the first call; each call is a new connection to its run store. */
function open(): Workspace {
  const workspace = Workspace.create(dir, { existOk: true });
  opened.push(workspace);
  return workspace;
}

/** A clock the test moves by hand. */
function clockAt(iso: string): { now: () => Date; set(iso: string): void; advance(ms: number): void } {
  let time = new Date(iso).getTime();
  return {
    now: () => new Date(time),
    set: (next) => {
      time = new Date(next).getTime();
    },
    advance: (ms) => {
      time += ms;
    },
  };
}

/** A recording `submit`: each call gets the next run id. */
function recorder(options: { delayMs?: number; fail?: (target: ScheduleTarget) => Error | undefined } = {}) {
  const calls: Array<{ target: ScheduleTarget; submission: ScheduledSubmission }> = [];
  const submit: SchedulerOptions['submit'] = async (target, submission) => {
    calls.push({ target, submission });
    if (options.delayMs) await sleep(options.delayMs);
    const error = options.fail?.(target);
    if (error) throw error;
    return { runId: `run-${calls.length}` };
  };
  return { calls, submit };
}

function hourly(name: string, extra: Partial<CreateScheduleOptions> = {}): Schedule {
  vi.setSystemTime(new Date('2039-12-31T12:00:00Z'));
  return Schedule.create(ws, {
    name,
    pipelineId: 'pipeline-1',
    experimentName: 'scheduled',
    parameters: { rate: 0.5 },
    recurrence: { frequency: 'Hour', interval: 1, startTime: '2040-01-01T00:00:00' },
    ...extra,
  } as CreateScheduleOptions);
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('scheduler', () => {
  it('fires a due schedule once, with its parameters, and moves it to its next time', async () => {
    const schedule = hourly('hourly');
    expect(schedule.nextFireAt).toBe('2040-01-01T00:00:00.000Z');
    const clock = clockAt('2039-12-31T23:59:59Z');
    const { calls, submit } = recorder();
    const scheduler = createScheduler({ workspace: ws, submit, isTargetEnabled: () => true, now: clock.now });

    expect(await scheduler.tick()).toEqual([]);
    clock.set('2040-01-01T00:00:00Z');
    const [firing, ...more] = await scheduler.tick();
    expect(more).toEqual([]);
    expect(firing).toMatchObject({
      scheduleId: schedule.id,
      scheduleName: 'hourly',
      dueAt: '2040-01-01T00:00:00.000Z',
      firedAt: '2040-01-01T00:00:00.000Z',
      status: 'Submitted',
      runId: 'run-1',
      error: null,
    });
    expect(calls).toEqual([
      {
        target: { pipelineId: 'pipeline-1' },
        submission: {
          experimentName: 'scheduled',
          parameters: { rate: 0.5 },
          runSource: 'Schedule',
          schedule: { id: schedule.id, name: 'hourly' },
        },
      },
    ]);
    expect(schedule.nextFireAt).toBe('2040-01-01T01:00:00.000Z');
    expect(schedule.lastFiredAt).toBe('2040-01-01T00:00:00.000Z');
    expect(await scheduler.tick()).toEqual([]);
    expect(schedule.firings()).toEqual([firing]);
  });

  it('fires a window of many missed times once, then carries on from now', async () => {
    const schedule = hourly('missed');
    const clock = clockAt('2040-01-03T05:30:00Z'); // 54 hourly times since the first
    const { calls, submit } = recorder();
    const scheduler = createScheduler({ workspace: ws, submit, isTargetEnabled: () => true, now: clock.now });

    const firings = await scheduler.tick();
    expect(firings.map((firing) => [firing.dueAt, firing.status])).toEqual([
      ['2040-01-01T00:00:00.000Z', 'Submitted'],
    ]);
    expect(schedule.nextFireAt).toBe('2040-01-03T06:00:00.000Z');
    expect(await scheduler.tick()).toEqual([]);
    clock.set('2040-01-03T06:00:00Z');
    expect(await scheduler.tick()).toHaveLength(1);
    expect(calls).toHaveLength(2);
  });

  it('does not fire a disabled schedule; enabled again, it fires from its next time', async () => {
    const schedule = hourly('paused');
    schedule.disable();
    expect(schedule.status).toBe('Disabled');
    expect(schedule.nextFireAt).toBeNull();
    const clock = clockAt('2040-01-01T05:00:00Z');
    const { calls, submit } = recorder();
    const scheduler = createScheduler({ workspace: ws, submit, isTargetEnabled: () => true, now: clock.now });

    expect(await scheduler.tick()).toEqual([]);
    expect(schedule.firings()).toEqual([]);

    vi.setSystemTime(new Date('2040-01-01T05:10:00Z'));
    schedule.enable();
    expect(schedule.status).toBe('Active');
    expect(schedule.nextFireAt).toBe('2040-01-01T06:00:00.000Z'); // no making up for the time it was off
    expect(await scheduler.tick()).toEqual([]);
    clock.set('2040-01-01T06:00:00Z');
    expect(await scheduler.tick()).toHaveLength(1);
    expect(calls).toHaveLength(1);
  });

  it('records a skipped firing, and submits nothing, when the target is disabled', async () => {
    const schedule = hourly('disabled-pipeline', {
      pipelineId: 'pipeline-off',
    } as Partial<CreateScheduleOptions>);
    const endpoint = hourly('disabled-endpoint', {
      pipelineId: undefined,
      endpointName: 'scoring',
      endpointVersion: '2',
    } as unknown as Partial<CreateScheduleOptions>);
    const clock = clockAt('2040-01-01T00:00:00Z');
    const { calls, submit } = recorder();
    const enabled = (target: ScheduleTarget): boolean =>
      'pipelineId' in target && target.pipelineId !== 'pipeline-off';
    const scheduler = createScheduler({ workspace: ws, submit, isTargetEnabled: enabled, now: clock.now });

    const firings = await scheduler.tick();
    expect(calls).toEqual([]);
    expect(firings).toEqual([
      expect.objectContaining({
        scheduleName: 'disabled-endpoint',
        status: 'Skipped',
        runId: null,
        error: {
          code: 'ENDPOINT_DISABLED',
          message: expect.stringMatching(/Endpoint "scoring" version 2 is disabled/),
        },
      }),
      expect.objectContaining({
        scheduleName: 'disabled-pipeline',
        status: 'Skipped',
        error: {
          code: 'PUBLISHED_PIPELINE_DISABLED',
          message: expect.stringMatching(/Published pipeline pipeline-off is disabled/),
        },
      }),
    ]);
    expect(schedule.nextFireAt).toBe('2040-01-01T01:00:00.000Z');
    expect(endpoint.toJSON().target).toEqual({ endpointName: 'scoring', version: '2' });
  });

  it('records a failed submission with its code, and fires again at the next time', async () => {
    hourly('failing');
    const clock = clockAt('2040-01-01T00:00:00Z');
    let fail = true;
    const { submit } = recorder({
      fail: () =>
        fail ? new SluiceError('PARAMETER_UNKNOWN', 'The pipeline has no parameter "rate".') : undefined,
    });
    const scheduler = createScheduler({ workspace: ws, submit, isTargetEnabled: () => true, now: clock.now });

    expect(await scheduler.tick()).toEqual([
      expect.objectContaining({
        status: 'Failed',
        runId: null,
        error: { code: 'PARAMETER_UNKNOWN', message: 'The pipeline has no parameter "rate".' },
      }),
    ]);
    fail = false;
    clock.advance(HOUR);
    expect(await scheduler.tick()).toEqual([expect.objectContaining({ status: 'Submitted' })]);
  });

  it('fires once when two schedulers on the same workspace tick at the same time', async () => {
    const schedule = hourly('contended');
    const other = open(); // a second connection to the same run store, as a second server would have
    const clock = clockAt('2040-01-01T00:00:00Z');
    const { calls, submit } = recorder({ delayMs: 5 });
    let checks = 0;
    // answering asynchronously lets both schedulers read the due schedule before either claims it
    const isTargetEnabled = async (): Promise<boolean> => {
      checks++;
      await sleep(1);
      return true;
    };
    const first = createScheduler({ workspace: ws, submit, isTargetEnabled, now: clock.now });
    const second = createScheduler({ workspace: other, submit, isTargetEnabled, now: clock.now });

    for (let hour = 0; hour < 5; hour++) {
      const [a, b] = await Promise.all([first.tick(), second.tick()]);
      expect(a.length + b.length).toBe(1);
      clock.advance(HOUR);
    }
    expect(checks).toBe(10); // both saw every due time
    expect(calls).toHaveLength(5);
    expect(schedule.firings().map((firing) => firing.dueAt)).toEqual(
      [4, 3, 2, 1, 0].map((hour) => `2040-01-01T0${hour}:00:00.000Z`),
    );
  });

  it('keeps schedules, their state and their firings across reopening the workspace', async () => {
    const schedule = hourly('kept', {
      description: 'every hour',
      recurrence: {
        frequency: 'Hour',
        interval: 2,
        timeZone: 'Europe/Berlin',
        startTime: '2040-01-01T01:00:00',
      },
    } as Partial<CreateScheduleOptions>);
    hourly('kept-disabled').disable();
    const { submit } = recorder();
    const clock = clockAt('2040-01-01T00:00:00Z'); // 01:00 in Berlin
    await createScheduler({ workspace: ws, submit, isTargetEnabled: () => true, now: clock.now }).tick();
    const before = schedule.toJSON();
    expect(before.nextFireAt).toBe('2040-01-01T02:00:00.000Z');
    await ws.close();
    opened.splice(opened.indexOf(ws), 1);

    ws = open();
    const reopened = Schedule.get(ws, 'kept');
    expect(reopened.toJSON()).toEqual(before);
    expect(reopened.recurrence).toEqual({
      frequency: 'Hour',
      interval: 2,
      timeZone: 'Europe/Berlin',
      startTime: '2040-01-01T01:00:00',
    });
    expect(Schedule.get(ws, schedule.id).name).toBe('kept');
    expect(Schedule.get(ws, 'kept-disabled').status).toBe('Disabled');
    expect(Schedule.list(ws).map((entry) => entry.name)).toEqual(['kept', 'kept-disabled']);
    expect(Schedule.list(ws, { status: 'Active' }).map((entry) => entry.name)).toEqual(['kept']);
    expect(reopened.firings()).toHaveLength(1);

    const { calls, submit: submitAgain } = recorder();
    clock.set('2040-01-01T02:00:00Z');
    await createScheduler({
      workspace: ws,
      submit: submitAgain,
      isTargetEnabled: () => true,
      now: clock.now,
    }).tick();
    expect(calls.map((call) => call.submission.schedule.name)).toEqual(['kept']);
    expect(reopened.firings()).toHaveLength(2);
  });

  it('fires at the time after a DST gap with an injected clock (Europe/Berlin, 02:30 daily)', async () => {
    vi.setSystemTime(new Date('2026-03-20T00:00:00Z'));
    const schedule = Schedule.create(ws, {
      name: 'berlin',
      pipelineId: 'pipeline-1',
      experimentName: 'scheduled',
      recurrence: {
        frequency: 'Day',
        interval: 1,
        hours: [2],
        minutes: [30],
        timeZone: 'Europe/Berlin',
        startTime: '2026-03-28T00:00:00',
      },
    });
    const clock = clockAt('2026-03-28T01:30:00Z');
    const { calls, submit } = recorder();
    const scheduler = createScheduler({ workspace: ws, submit, isTargetEnabled: () => true, now: clock.now });

    expect(await scheduler.tick()).toHaveLength(1); // 02:30 CET
    expect(schedule.nextFireAt).toBe('2026-03-29T01:00:00.000Z'); // 03:00 CEST: 02:30 does not exist
    clock.set('2026-03-29T00:59:59Z');
    expect(await scheduler.tick()).toEqual([]);
    clock.set('2026-03-29T01:00:00Z');
    expect(await scheduler.tick()).toHaveLength(1);
    expect(schedule.nextFireAt).toBe('2026-03-30T00:30:00.000Z'); // 02:30 CEST
    expect(calls).toHaveLength(2);
  });

  it('ticks on its own once started, until stopped', async () => {
    hourly('background');
    const { calls, submit } = recorder();
    const clock = clockAt('2040-01-01T00:00:00Z');
    const scheduler = createScheduler({
      workspace: ws,
      submit,
      isTargetEnabled: () => true,
      now: clock.now,
      pollMs: 10,
    });
    scheduler.start();
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    clock.advance(HOUR);
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    await scheduler.stop();
    clock.advance(HOUR);
    await sleep(50);
    expect(calls).toHaveLength(2);
  });
});

describe('datastore watch', () => {
  const data = (text: string): Uint8Array => new TextEncoder().encode(text);

  function watch(name: string, extra: Partial<CreateScheduleOptions> = {}): Schedule {
    vi.setSystemTime(new Date('2040-01-01T00:00:00Z'));
    return Schedule.create(ws, {
      name,
      endpointName: 'ingest',
      experimentName: 'ingest',
      parameters: { mode: 'append' },
      datastore: 'workspaceblobstore',
      pathOnDatastore: 'incoming',
      pollingInterval: 5,
      ...extra,
    } as CreateScheduleOptions);
  }

  it('records the files at its first look, then fires for each added or changed file, passing its path', async () => {
    const store = ws.getDefaultDatastore();
    await store.write('incoming/a.csv', data('a,b\n1,2\n'));
    const schedule = watch('new-files', { dataPathParameterName: 'input_path' });
    expect(schedule.datastoreWatch).toEqual({
      datastore: 'workspaceblobstore',
      pathOnDatastore: 'incoming',
      pollingInterval: 5,
      dataPathParameterName: 'input_path',
    });
    const clock = clockAt('2040-01-01T00:00:00Z');
    const { calls, submit } = recorder();
    const scheduler = createScheduler({ workspace: ws, submit, isTargetEnabled: () => true, now: clock.now });

    expect(await scheduler.tick()).toEqual([]); // the first look: a.csv was there before
    expect(schedule.nextFireAt).toBe('2040-01-01T00:05:00.000Z');
    await store.write('incoming/b.csv', data('x\n'));
    clock.advance(MINUTE);
    expect(await scheduler.tick()).toEqual([]); // not yet time to look again

    clock.advance(4 * MINUTE);
    const [added, ...rest] = await scheduler.tick();
    expect(rest).toEqual([]);
    expect(added).toMatchObject({ status: 'Submitted', dataPath: 'incoming/b.csv', runId: 'run-1' });
    expect(calls[0]).toEqual({
      target: { endpointName: 'ingest' },
      submission: {
        experimentName: 'ingest',
        parameters: { mode: 'append', input_path: 'incoming/b.csv' },
        runSource: 'Schedule',
        dataPath: { datastore: 'workspaceblobstore', path: 'incoming/b.csv', parameterName: 'input_path' },
        schedule: { id: schedule.id, name: 'new-files' },
      },
    });

    clock.advance(5 * MINUTE);
    expect(await scheduler.tick()).toEqual([]); // nothing changed

    await store.write('incoming/a.csv', data('a,b\n1,2\n3,4\n'), { overwrite: true });
    await store.write('incoming/c.csv', data('c\n'));
    await store.write('incoming/nested/d.csv', data('d\n')); // subfolders are not watched
    await store.write('elsewhere/e.csv', data('e\n'));
    clock.advance(5 * MINUTE);
    const changed = await scheduler.tick();
    expect(changed.map((firing) => firing.dataPath)).toEqual(['incoming/a.csv', 'incoming/c.csv']);
    expect(calls.slice(1).map((call) => call.submission.parameters.input_path)).toEqual([
      'incoming/a.csv',
      'incoming/c.csv',
    ]);
  });

  it('without dataPathParameterName fires one run per look, for the watched path', async () => {
    const store = ws.getDefaultDatastore();
    watch('per-look');
    const clock = clockAt('2040-01-01T00:00:00Z');
    const { calls, submit } = recorder();
    const scheduler = createScheduler({ workspace: ws, submit, isTargetEnabled: () => true, now: clock.now });
    expect(await scheduler.tick()).toEqual([]); // an empty folder, recorded
    await store.write('incoming/one.csv', data('1'));
    await store.write('incoming/two.csv', data('2'));
    clock.advance(5 * MINUTE);
    expect(await scheduler.tick()).toEqual([
      expect.objectContaining({ dataPath: 'incoming', status: 'Submitted' }),
    ]);
    expect(calls.map((call) => call.submission)).toEqual([
      expect.objectContaining({
        parameters: { mode: 'append' },
        dataPath: { datastore: 'workspaceblobstore', path: 'incoming' },
      }),
    ]);
  });

  it('records skipped firings while its target is disabled, and keeps watching across reopening', async () => {
    const store = ws.getDefaultDatastore();
    watch('watch-kept', { dataPathParameterName: 'input_path' });
    const clock = clockAt('2040-01-01T00:00:00Z');
    let enabled = false;
    const { calls, submit } = recorder();
    const options = { submit, isTargetEnabled: () => enabled, now: clock.now };
    await createScheduler({ workspace: ws, ...options }).tick();
    await store.write('incoming/while-off.csv', data('1'));
    clock.advance(5 * MINUTE);
    expect(await createScheduler({ workspace: ws, ...options }).tick()).toEqual([
      expect.objectContaining({
        status: 'Skipped',
        dataPath: 'incoming/while-off.csv',
        error: expect.objectContaining({ code: 'ENDPOINT_DISABLED' }),
      }),
    ]);

    await ws.close();
    opened.splice(opened.indexOf(ws), 1);
    ws = open();
    enabled = true;
    await ws.getDefaultDatastore().write('incoming/after-reopen.csv', data('2'));
    clock.advance(5 * MINUTE);
    // what it saw before the restart is remembered: only the new file fires
    expect(
      (await createScheduler({ workspace: ws, ...options }).tick()).map((firing) => firing.dataPath),
    ).toEqual(['incoming/after-reopen.csv']);
    expect(calls).toHaveLength(1);
    expect(
      Schedule.get(ws, 'watch-kept')
        .firings()
        .map((firing) => firing.status),
    ).toEqual(['Submitted', 'Skipped']);
  });

  it('records a failed look when the datastore cannot be listed', async () => {
    watch('unlistable');
    const clock = clockAt('2040-01-01T00:00:00Z');
    const { submit } = recorder();
    const list = vi
      .spyOn(ws.getDefaultDatastore(), 'list')
      .mockRejectedValueOnce(new SluiceError('DATASTORE_AUTH_FAILED', 'The account key was refused.'));
    const scheduler = createScheduler({ workspace: ws, submit, isTargetEnabled: () => true, now: clock.now });
    expect(await scheduler.tick()).toEqual([
      expect.objectContaining({
        status: 'Failed',
        error: { code: 'DATASTORE_AUTH_FAILED', message: 'The account key was refused.' },
      }),
    ]);
    list.mockRestore();
  });
});
