import { Cron } from 'croner';
import { SluiceError } from '@sluice/core';

export const FREQUENCIES = ['Minute', 'Hour', 'Day', 'Week', 'Month'] as const;
export type Frequency = (typeof FREQUENCIES)[number];

/** Cron's day-of-week numbers are the indexes of this list. */
export const WEEK_DAYS = [
  'Sunday',
  'Monday',
  'Tuesday',
  'Wednesday',
  'Thursday',
  'Friday',
  'Saturday',
] as const;
export type WeekDay = (typeof WEEK_DAYS)[number];

/** The largest interval per frequency (those of Azure's recurrence triggers, about 16 months each). */
const MAX_INTERVAL: Record<Frequency, number> = {
  Minute: 72_000,
  Hour: 12_000,
  Day: 500,
  Week: 71,
  Month: 16,
};

/** How a recurring schedule fires, as given to `Schedule.create`. */
export interface RecurrenceOptions {
  /** The unit of time between firings. */
  frequency: Frequency;
  /** How many units of `frequency` from one firing to the next (counted from the start time). */
  interval: number;
  /** Hours of the day (0-23) to fire at; Day, Week and Month frequencies. Default: the start time's hour. */
  hours?: readonly number[];
  /** Minutes of the hour (0-59) to fire at; Hour, Day, Week and Month frequencies. Default: the start time's. */
  minutes?: readonly number[];
  /** Days of the week to fire on; Week frequency only. Default: the start time's day. */
  weekDays?: readonly WeekDay[];
  /** The IANA time zone that hours, minutes, days and a wall-clock start time are in. Default 'UTC'. */
  timeZone?: string;
  /**
   * When the recurrence starts: a wall-clock time in `timeZone` ('YYYY-MM-DDThh:mm:ss'), or an instant (a
   * Date, or a string with 'Z' or an offset). It sets the first possible firing, the time of day (unless
   * hours/minutes are given), the day of the week and of the month, and the period that `interval` counts
   * from. Without it the schedule fires once right away and then recurs from its creation time.
   */
  startTime?: Date | string;
}

/** A recurrence as stored: everything resolved, the start time a wall-clock time in `timeZone`. */
export interface Recurrence {
  frequency: Frequency;
  interval: number;
  hours?: number[];
  minutes?: number[];
  weekDays?: WeekDay[];
  timeZone: string;
  /** 'YYYY-MM-DDThh:mm:ss', wall-clock time in `timeZone`. */
  startTime: string;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

function invalid(field: string, message: string): SluiceError {
  return new SluiceError('PARAMETER_INVALID', message, { details: { field } });
}

/** Check and resolve a recurrence; `createdAt` stands in for a missing start time. */
export function normalizeRecurrence(options: RecurrenceOptions, createdAt: Date): Recurrence {
  if (!options || typeof options !== 'object') {
    throw invalid('recurrence', 'recurrence must be an object such as { frequency: "Day", interval: 1 }.');
  }
  const frequency = FREQUENCIES.find(
    (name) => typeof options.frequency === 'string' && name.toLowerCase() === options.frequency.toLowerCase(),
  );
  if (!frequency) {
    throw invalid(
      'recurrence.frequency',
      `recurrence.frequency must be one of ${FREQUENCIES.join(', ')} (got ${JSON.stringify(options.frequency)}).`,
    );
  }
  const max = MAX_INTERVAL[frequency];
  if (!Number.isInteger(options.interval) || options.interval < 1 || options.interval > max) {
    throw invalid(
      'recurrence.interval',
      `recurrence.interval must be a whole number from 1 to ${max} for frequency ${frequency} (got ${JSON.stringify(options.interval)}).`,
    );
  }
  const timeZone = checkTimeZone(options.timeZone ?? 'UTC');

  const recurrence: Recurrence = {
    frequency,
    interval: options.interval,
    timeZone,
    startTime: resolveStartTime(options.startTime, createdAt, timeZone),
  };
  if (options.hours !== undefined) {
    if (frequency === 'Minute' || frequency === 'Hour') {
      throw invalid(
        'recurrence.hours',
        `recurrence.hours applies to the Day, Week and Month frequencies, not ${frequency}; remove it or change the frequency.`,
      );
    }
    recurrence.hours = checkNumbers('recurrence.hours', options.hours, 23, 'hours of the day');
  }
  if (options.minutes !== undefined) {
    if (frequency === 'Minute') {
      throw invalid(
        'recurrence.minutes',
        'recurrence.minutes does not apply to the Minute frequency; remove it or use the Hour frequency.',
      );
    }
    recurrence.minutes = checkNumbers('recurrence.minutes', options.minutes, 59, 'minutes of the hour');
  }
  if (options.weekDays !== undefined) {
    if (frequency !== 'Week') {
      throw invalid(
        'recurrence.weekDays',
        `recurrence.weekDays applies to the Week frequency only, not ${frequency}; remove it or use frequency "Week".`,
      );
    }
    recurrence.weekDays = checkWeekDays(options.weekDays);
  }
  return recurrence;
}

/** The canonical name of an IANA time zone, or PARAMETER_INVALID saying what to give instead. */
function checkTimeZone(timeZone: unknown): string {
  if (typeof timeZone === 'string' && timeZone.trim() !== '') {
    try {
      return new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
    } catch {
      // reported below
    }
  }
  throw invalid(
    'recurrence.timeZone',
    `recurrence.timeZone ${JSON.stringify(timeZone)} is not a known time zone; give an IANA name such as "UTC", "Europe/Berlin" or "America/New_York".`,
  );
}

function checkNumbers(field: string, values: unknown, max: number, what: string): number[] {
  if (
    !Array.isArray(values) ||
    values.length === 0 ||
    !values.every((value) => Number.isInteger(value) && value >= 0 && value <= max)
  ) {
    throw invalid(
      field,
      `${field} must be a non-empty list of whole numbers from 0 to ${max} (${what}); got ${JSON.stringify(values)}.`,
    );
  }
  return [...new Set(values as number[])].sort((a, b) => a - b);
}

function checkWeekDays(values: unknown): WeekDay[] {
  const days = Array.isArray(values)
    ? values.map((value) =>
        WEEK_DAYS.find((day) => typeof value === 'string' && day.toLowerCase() === value.toLowerCase()),
      )
    : [];
  if (days.length === 0 || days.some((day) => day === undefined)) {
    throw invalid(
      'recurrence.weekDays',
      `recurrence.weekDays must be a non-empty list of ${WEEK_DAYS.join(', ')}; got ${JSON.stringify(values)}.`,
    );
  }
  return [...new Set(days as WeekDay[])].sort((a, b) => WEEK_DAYS.indexOf(a) - WEEK_DAYS.indexOf(b));
}

const WALL_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/;

/** A start time as a wall-clock time in the zone. */
function resolveStartTime(startTime: Date | string | undefined, createdAt: Date, timeZone: string): string {
  if (startTime === undefined) return formatWall(wallClock(createdAt, timeZone));
  if (startTime instanceof Date) {
    if (Number.isNaN(startTime.getTime())) {
      throw invalid('recurrence.startTime', 'recurrence.startTime is an invalid Date.');
    }
    return formatWall(wallClock(startTime, timeZone));
  }
  if (typeof startTime === 'string') {
    const wall = parseWall(startTime);
    if (wall) return formatWall(wall);
    // an instant: an ISO time with 'Z' or an offset
    if (/(Z|[+-]\d{2}:?\d{2})$/i.test(startTime.trim()) && !Number.isNaN(Date.parse(startTime))) {
      return formatWall(wallClock(new Date(startTime), timeZone));
    }
  }
  throw invalid(
    'recurrence.startTime',
    `recurrence.startTime must be a Date or a time like "2030-01-31T09:30:00" (wall-clock time in recurrence.timeZone, or with "Z"/an offset for an instant); got ${JSON.stringify(startTime)}.`,
  );
}

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function parseWall(text: string): Wall | undefined {
  const match = WALL_TIME.exec(text.trim());
  if (!match) return undefined;
  const [year, month, day, hour, minute, second = 0] = match.slice(1).map((part) => Number(part ?? 0));
  const wall = { year: year!, month: month!, day: day!, hour: hour!, minute: minute!, second };
  // Date.UTC rolls 31 April over to 1 May: a date that does not round-trip does not exist
  const check = new Date(Date.UTC(wall.year, wall.month - 1, wall.day));
  if (
    check.getUTCMonth() !== wall.month - 1 ||
    check.getUTCDate() !== wall.day ||
    wall.hour > 23 ||
    wall.minute > 59 ||
    wall.second > 59
  ) {
    return undefined;
  }
  return wall;
}

const pad = (value: number, width = 2): string => String(value).padStart(width, '0');

function formatWall(wall: Wall): string {
  return `${pad(wall.year, 4)}-${pad(wall.month)}-${pad(wall.day)}T${pad(wall.hour)}:${pad(wall.minute)}:${pad(wall.second)}`;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock fields of an instant in a time zone. */
function wallClock(date: Date, timeZone: string): Wall {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(date)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour!,
    minute: parts.minute!,
    second: parts.second!,
  };
}

/**
 * How a recurrence maps onto cron: `cron` yields every candidate time (the hours, minutes and days the
 * recurrence fires at); `interval` then keeps the candidates in every interval-th period counted from the
 * start's period, and `periodStart` lets the search jump over the periods in between.
 */
interface Plan {
  cron: Cron;
  /** The first instant the recurrence may fire at. */
  start: Date;
  interval: number;
  /** The number of the period an instant is in. */
  period(date: Date): number;
  /** The first instant of the period `count` periods after the one `date` is in. */
  periodStart(date: Date, count: number): Date;
}

const CRON_OPTIONS = { mode: '6-or-7-parts', fixedTimeRule: 'no-wildcard' } as const;

function planFor(recurrence: Recurrence): Plan {
  const { frequency, interval, timeZone } = recurrence;
  const wall = parseWall(recurrence.startTime);
  if (!wall) throw invalid('recurrence.startTime', `Stored start time ${recurrence.startTime} is not valid.`);
  const options = { ...CRON_OPTIONS, timezone: timeZone };
  // The wall-clock start as an instant, by cron's own rules: a time skipped by a DST change becomes the first
  // time after the gap; a time that occurs twice, its first occurrence.
  const start = new Cron(
    `${wall.second} ${wall.minute} ${wall.hour} ${wall.day} ${wall.month} * ${wall.year}`,
    options,
  ).nextRun(new Date(Date.UTC(wall.year, wall.month - 1, wall.day) - 2 * DAY))!;

  const explicit = recurrence.hours !== undefined || recurrence.minutes !== undefined;
  const second = explicit ? 0 : wall.second;
  const minutes = (recurrence.minutes ?? [wall.minute]).join(',');
  const hours = (recurrence.hours ?? [wall.hour]).join(',');
  const weekDays = (recurrence.weekDays ?? [WEEK_DAYS[weekDayOf(wall)]!])
    .map((day) => WEEK_DAYS.indexOf(day))
    .join(',');
  const pattern = {
    Minute: `${second} * * * * *`,
    Hour: `${second} ${minutes} * * * *`,
    Day: `${second} ${minutes} ${hours} * * *`,
    Week: `${second} ${minutes} ${hours} * * ${weekDays}`,
    Month: `${second} ${minutes} ${hours} ${wall.day} * *`,
  }[frequency];
  const cron = new Cron(pattern, options);

  if (frequency === 'Minute' || frequency === 'Hour') {
    // fixed lengths of elapsed time, counted from the start of the start's minute or hour
    const length = frequency === 'Minute' ? MINUTE : HOUR;
    const local = wallClock(start, timeZone);
    const origin =
      start.getTime() - (frequency === 'Minute' ? local.second : local.minute * 60 + local.second) * 1000;
    const period = (date: Date): number => Math.floor((date.getTime() - origin) / length);
    return {
      cron,
      start,
      interval,
      period,
      periodStart: (date, count) => new Date(origin + (period(date) + count) * length),
    };
  }

  // calendar periods in the time zone; their boundaries come from cron too
  const boundary = new Cron(
    { Day: '0 0 0 * * *', Week: '0 0 0 * * 1', Month: '0 0 0 1 * *' }[frequency],
    options,
  );
  const period = (date: Date): number => {
    const local = wallClock(date, timeZone);
    if (frequency === 'Month') return local.year * 12 + local.month - 1;
    const day = civilDay(local);
    // weeks run Monday to Sunday; day 0 (1970-01-01) was a Thursday
    return frequency === 'Day' ? day : Math.floor((day + 3) / 7);
  };
  return {
    cron,
    start,
    interval,
    period,
    periodStart: (date, count) => boundary.nextRuns(count, date).at(-1)!,
  };
}

/** Days since 1970-01-01 of a calendar date (a day count, not a time). */
function civilDay(wall: Pick<Wall, 'year' | 'month' | 'day'>): number {
  return Math.round(Date.UTC(wall.year, wall.month - 1, wall.day) / DAY);
}

function weekDayOf(wall: Pick<Wall, 'year' | 'month' | 'day'>): number {
  return new Date(Date.UTC(wall.year, wall.month - 1, wall.day)).getUTCDay();
}

/**
 * The first time the recurrence fires strictly after `after` (and not before its start time), or null when
 * it never fires again.
 */
export function nextOccurrence(recurrence: Recurrence, after: Date): Date | null {
  const plan = planFor(recurrence);
  const first = plan.period(plan.start);
  // cron's nextRun is strictly after its argument (to the second): 1 ms before the start includes the start
  let from = new Date(Math.max(after.getTime(), plan.start.getTime() - 1));
  // each pass moves at least one period on; a few passes suffice unless a period has no candidate time
  for (let pass = 0; pass < 1000; pass++) {
    const next = plan.cron.nextRun(from);
    if (!next) return null;
    const offset = mod(plan.period(next) - first, plan.interval);
    if (offset === 0) return next;
    from = new Date(plan.periodStart(next, plan.interval - offset).getTime() - 1);
  }
  return null;
}

const mod = (value: number, by: number): number => ((value % by) + by) % by;
