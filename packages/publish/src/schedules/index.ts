export { Schedule } from './schedule.js';
export type { CreateScheduleOptions, ListSchedulesOptions, ScheduleJSON } from './schedule.js';
export { createScheduler } from './scheduler.js';
export type { ScheduledSubmission, Scheduler, SchedulerOptions } from './scheduler.js';
export { FREQUENCIES, WEEK_DAYS } from './recurrence.js';
export type { Frequency, Recurrence, RecurrenceOptions, WeekDay } from './recurrence.js';
export type {
  DatastoreWatch,
  Firing,
  FiringStatus,
  ScheduleKind,
  ScheduleStatus,
  ScheduleTarget,
} from './store.js';
