import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSluiceError } from '@sluice/core';
import { Workspace } from '@sluice/runtime';
import { Schedule, type CreateScheduleOptions, type RecurrenceOptions } from '../schedules/index.js';

let dir: string;
let ws: Workspace;
let count = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-schedules-'));
  ws = Workspace.create(dir);
});

afterAll(async () => {
  await ws.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The next `n` firing times (ISO, UTC) of a recurrence after `after`. */
function firings(recurrence: RecurrenceOptions, after: string, n = 4): string[] {
  const schedule = Schedule.create(ws, {
    name: `recurrence-${++count}`,
    pipelineId: 'pipeline-1',
    experimentName: 'scheduled',
    recurrence,
  });
  const times: string[] = [];
  let from = new Date(after);
  for (let i = 0; i < n; i++) {
    const next = schedule.nextFireTime(from);
    if (!next) break;
    times.push(next.toISOString());
    from = next;
  }
  return times;
}

describe('next fire time', () => {
  it('Minute: every interval minutes from the start time, across hours', () => {
    expect(
      firings(
        { frequency: 'Minute', interval: 15, startTime: '2030-01-01T00:05:00' },
        '2029-12-01T00:00:00Z',
      ),
    ).toEqual([
      '2030-01-01T00:05:00.000Z',
      '2030-01-01T00:20:00.000Z',
      '2030-01-01T00:35:00.000Z',
      '2030-01-01T00:50:00.000Z',
    ]);
    // 7 does not divide an hour: the count runs on from the start, not from each hour
    expect(
      firings(
        { frequency: 'Minute', interval: 7, startTime: '2030-01-01T00:00:00' },
        '2030-01-01T00:50:00Z',
        3,
      ),
    ).toEqual(['2030-01-01T00:56:00.000Z', '2030-01-01T01:03:00.000Z', '2030-01-01T01:10:00.000Z']);
  });

  it('Hour: every interval hours at the start minute, or at the given minutes', () => {
    expect(
      firings(
        { frequency: 'Hour', interval: 5, startTime: '2030-01-01T22:30:00' },
        '2030-01-02T00:00:00Z',
        3,
      ),
    ).toEqual(['2030-01-02T03:30:00.000Z', '2030-01-02T08:30:00.000Z', '2030-01-02T13:30:00.000Z']);
    expect(
      firings(
        { frequency: 'Hour', interval: 2, minutes: [30, 0], startTime: '2030-01-01T10:00:00' },
        '2030-01-01T09:00:00Z',
        5,
      ),
    ).toEqual([
      '2030-01-01T10:00:00.000Z',
      '2030-01-01T10:30:00.000Z',
      '2030-01-01T12:00:00.000Z',
      '2030-01-01T12:30:00.000Z',
      '2030-01-01T14:00:00.000Z',
    ]);
  });

  it('Day: every interval days, across month ends, at the start time or at hours × minutes', () => {
    expect(
      firings({ frequency: 'Day', interval: 3, startTime: '2030-01-30T09:15:00' }, '2030-01-01T00:00:00Z', 3),
    ).toEqual(['2030-01-30T09:15:00.000Z', '2030-02-02T09:15:00.000Z', '2030-02-05T09:15:00.000Z']);
    expect(
      firings(
        {
          frequency: 'Day',
          interval: 2,
          hours: [20, 8],
          minutes: [0, 45],
          startTime: '2030-01-01T00:00:00',
        },
        '2030-01-01T00:00:00Z',
        6,
      ),
    ).toEqual([
      '2030-01-01T08:00:00.000Z',
      '2030-01-01T08:45:00.000Z',
      '2030-01-01T20:00:00.000Z',
      '2030-01-01T20:45:00.000Z',
      '2030-01-03T08:00:00.000Z',
      '2030-01-03T08:45:00.000Z',
    ]);
  });

  it('Week: the given week days of every interval-th week (weeks start on Monday)', () => {
    // 2030-01-02 is a Wednesday; its week runs from Monday 2029-12-31
    expect(
      firings(
        {
          frequency: 'Week',
          interval: 2,
          weekDays: ['Monday', 'Friday'],
          hours: [9],
          startTime: '2030-01-02T00:00:00',
        },
        '2030-01-01T00:00:00Z',
        5,
      ),
    ).toEqual([
      '2030-01-04T09:00:00.000Z',
      '2030-01-14T09:00:00.000Z',
      '2030-01-18T09:00:00.000Z',
      '2030-01-28T09:00:00.000Z',
      '2030-02-01T09:00:00.000Z',
    ]);
    // without week days: the start time's day
    expect(
      firings(
        { frequency: 'Week', interval: 1, startTime: '2030-01-02T07:00:00' },
        '2030-01-02T08:00:00Z',
        2,
      ),
    ).toEqual(['2030-01-09T07:00:00.000Z', '2030-01-16T07:00:00.000Z']);
  });

  it("Month: the start time's day of every interval-th month; months without that day are skipped", () => {
    expect(
      firings(
        { frequency: 'Month', interval: 1, startTime: '2030-01-15T06:00:00' },
        '2030-01-15T06:00:00Z',
        2,
      ),
    ).toEqual(['2030-02-15T06:00:00.000Z', '2030-03-15T06:00:00.000Z']);
    expect(
      firings(
        { frequency: 'Month', interval: 2, startTime: '2030-01-31T12:00:00' },
        '2030-01-01T00:00:00Z',
        5,
      ),
    ).toEqual([
      '2030-01-31T12:00:00.000Z',
      '2030-03-31T12:00:00.000Z',
      '2030-05-31T12:00:00.000Z',
      '2030-07-31T12:00:00.000Z',
      // September and November have no 31st
      '2031-01-31T12:00:00.000Z',
    ]);
  });

  it('reads hours and a wall-clock start time in the time zone, and an instant as given', () => {
    expect(
      firings(
        { frequency: 'Day', interval: 1, timeZone: 'America/New_York', startTime: '2030-06-01T09:00:00' },
        '2030-05-01T00:00:00Z',
        2,
      ),
    ).toEqual(['2030-06-01T13:00:00.000Z', '2030-06-02T13:00:00.000Z']);
    // the instant 14:00Z is 10:00 in New York (summer time)
    expect(
      firings(
        {
          frequency: 'Day',
          interval: 1,
          timeZone: 'America/New_York',
          startTime: new Date('2030-06-01T14:00:00Z'),
        },
        '2030-05-01T00:00:00Z',
        1,
      ),
    ).toEqual(['2030-06-01T14:00:00.000Z']);
  });

  it('keeps the wall-clock time across DST changes in Europe/Berlin', () => {
    // 2026-03-29: 02:00 CET becomes 03:00 CEST, so 02:30 does not exist that day: it fires at 03:00 CEST.
    // 2026-10-25: 03:00 CEST becomes 02:00 CET, so 02:30 happens twice: it fires once.
    const daily: RecurrenceOptions = {
      frequency: 'Day',
      interval: 1,
      hours: [2],
      minutes: [30],
      timeZone: 'Europe/Berlin',
      startTime: '2026-03-01T00:00:00',
    };
    expect(firings(daily, '2026-03-27T12:00:00Z', 4)).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST, the first time after the gap
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
      '2026-03-31T00:30:00.000Z',
    ]);
    expect(firings(daily, '2026-10-24T12:00:00Z', 3)).toEqual([
      '2026-10-25T00:30:00.000Z', // 02:30 CEST, the first of the two
      '2026-10-26T01:30:00.000Z', // 02:30 CET
      '2026-10-27T01:30:00.000Z',
    ]);
    // a start time inside the gap starts that day, after the gap
    expect(
      firings(
        { frequency: 'Day', interval: 1, timeZone: 'Europe/Berlin', startTime: '2026-03-29T02:30:00' },
        '2026-03-01T00:00:00Z',
        2,
      ),
    ).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
    // hours are elapsed time: every hour at :30, one hour apart in UTC across the change
    expect(
      firings(
        { frequency: 'Hour', interval: 1, timeZone: 'Europe/Berlin', startTime: '2026-03-29T00:30:00' },
        '2026-03-28T00:00:00Z',
        4,
      ),
    ).toEqual([
      '2026-03-28T23:30:00.000Z', // 00:30 CET
      '2026-03-29T00:30:00.000Z', // 01:30 CET
      '2026-03-29T01:30:00.000Z', // 03:30 CEST
      '2026-03-29T02:30:00.000Z', // 04:30 CEST
    ]);
  });
});

describe('validation', () => {
  const base = { pipelineId: 'pipeline-1', experimentName: 'scheduled' } as const;

  function failure(options: Partial<CreateScheduleOptions>): { code: string; message: string } {
    try {
      Schedule.create(ws, { name: `invalid-${++count}`, ...base, ...options } as CreateScheduleOptions);
    } catch (error) {
      if (isSluiceError(error)) return { code: error.code, message: error.message };
      throw error;
    }
    throw new Error('Schedule.create did not fail');
  }

  it.each([
    [{ frequency: 'Daily', interval: 1 }, /frequency must be one of Minute, Hour, Day, Week, Month/],
    [{ frequency: 'Day', interval: 0 }, /interval must be a whole number from 1 to 500/],
    [{ frequency: 'Hour', interval: 1.5 }, /interval must be a whole number/],
    [{ frequency: 'Month', interval: 17 }, /from 1 to 16 for frequency Month/],
    [
      { frequency: 'Day', interval: 1, timeZone: 'Mars/Olympus' },
      /IANA name such as "UTC", "Europe\/Berlin"/,
    ],
    [{ frequency: 'Minute', interval: 5, hours: [1] }, /hours applies to the Day, Week and Month/],
    [{ frequency: 'Day', interval: 1, hours: [24] }, /whole numbers from 0 to 23/],
    [{ frequency: 'Day', interval: 1, minutes: [] }, /non-empty list of whole numbers from 0 to 59/],
    [{ frequency: 'Day', interval: 1, weekDays: ['Monday'] }, /weekDays applies to the Week frequency only/],
    [{ frequency: 'Week', interval: 1, weekDays: ['Funday'] }, /weekDays must be a non-empty list of Sunday/],
    [
      { frequency: 'Day', interval: 1, startTime: '2030-02-30T00:00:00' },
      /startTime must be a Date or a time like/,
    ],
  ])('refuses recurrence %j', (recurrence, message) => {
    const error = failure({ recurrence: recurrence as RecurrenceOptions });
    expect(error.code).toBe('PARAMETER_INVALID');
    expect(error.message).toMatch(message);
  });

  it('refuses a bad target, experiment, parameters or trigger', () => {
    const daily = { frequency: 'Day', interval: 1 } as const;
    expect(
      failure({ recurrence: daily, endpointName: 'endpoint' } as unknown as Partial<CreateScheduleOptions>),
    ).toMatchObject({ code: 'PARAMETER_INVALID', message: expect.stringMatching(/exactly one of them/) });
    expect(
      failure({ recurrence: daily, pipelineId: undefined } as unknown as Partial<CreateScheduleOptions>),
    ).toMatchObject({ code: 'PARAMETER_INVALID', message: expect.stringMatching(/exactly one of them/) });
    expect(failure({ recurrence: daily, experimentName: 'no spaces' })).toMatchObject({
      code: 'PARAMETER_INVALID',
      message: expect.stringMatching(/experimentName "no spaces" is not valid/),
    });
    expect(
      failure({
        recurrence: daily,
        parameters: { rate: { nested: true } },
      } as unknown as Partial<CreateScheduleOptions>),
    ).toMatchObject({
      code: 'PARAMETER_INVALID',
      message: expect.stringMatching(/Parameter "rate" must be a string/),
    });
    expect(failure({})).toMatchObject({
      code: 'PARAMETER_INVALID',
      message: expect.stringMatching(/needs a recurrence .* or a datastore to watch/),
    });
    expect(
      failure({
        recurrence: daily,
        datastore: 'workspaceblobstore',
      } as unknown as Partial<CreateScheduleOptions>),
    ).toMatchObject({ code: 'PARAMETER_INVALID', message: expect.stringMatching(/not both/) });
  });

  it('refuses a bad datastore watch', () => {
    expect(failure({ datastore: 'nowhere' })).toMatchObject({ code: 'DATASTORE_NOT_FOUND' });
    expect(failure({ datastore: 'workspaceblobstore', pathOnDatastore: '../outside' })).toMatchObject({
      code: 'DATASTORE_PATH_ESCAPE',
    });
    expect(failure({ datastore: 'workspaceblobstore', pollingInterval: 0 })).toMatchObject({
      code: 'PARAMETER_INVALID',
      message: expect.stringMatching(/pollingInterval .* must be above 0/),
    });
    expect(failure({ datastore: 'workspaceblobstore', dataPathParameterName: 'has space' })).toMatchObject({
      code: 'PARAMETER_INVALID',
      message: expect.stringMatching(/dataPathParameterName "has space" is not a parameter name/),
    });
  });

  it('refuses a taken name and reports an unknown schedule', () => {
    const options = { name: 'nightly', ...base, recurrence: { frequency: 'Day', interval: 1 } } as const;
    Schedule.create(ws, options);
    expect(() => Schedule.create(ws, options)).toThrow(
      expect.objectContaining({
        code: 'SCHEDULE_EXISTS',
        message: expect.stringMatching(/"nightly" already exists/),
      }),
    );
    expect(() => Schedule.get(ws, 'no-such-schedule')).toThrow(
      expect.objectContaining({ code: 'SCHEDULE_NOT_FOUND' }),
    );
  });
});
