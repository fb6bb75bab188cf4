import { randomUUID } from 'node:crypto';
import { SluiceError, type ParameterValue } from '@sluice/core';
import { normaliseStorePath, type Workspace } from '@sluice/runtime';
import {
  nextOccurrence,
  normalizeRecurrence,
  type Recurrence,
  type RecurrenceOptions,
} from './recurrence.js';
import {
  ensureScheduleTables,
  getScheduleRecord,
  sql,
  toFiring,
  toSchedule,
  type DatastoreWatch,
  type Firing,
  type ScheduleKind,
  type ScheduleRecord,
  type ScheduleStatus,
  type ScheduleTarget,
} from './store.js';

interface CommonScheduleOptions {
  /** Unique in the workspace. */
  name: string;
  /** The experiment the schedule's runs go into. */
  experimentName: string;
  /** Parameter values for every run (a datastore watch adds its dataPathParameterName). */
  parameters?: Record<string, ParameterValue>;
  description?: string;
}

type TargetOptions =
  | { pipelineId: string; endpointName?: never; endpointVersion?: never }
  | { endpointName: string; endpointVersion?: string; pipelineId?: never };

type TriggerOptions =
  | { recurrence: RecurrenceOptions; datastore?: never }
  | {
      recurrence?: never;
      /** The datastore to watch (its name, or the datastore). */
      datastore: string | { readonly name: string };
      /** The path watched on it (default: the whole datastore); files in subfolders count too. */
      pathOnDatastore?: string;
      /** Minutes between two looks at the datastore (default 5). */
      pollingInterval?: number;
      /** The pipeline parameter that receives the added or changed file's path (one run per file). */
      dataPathParameterName?: string;
    };

/**
 * What `Schedule.create` takes: a name, a target (`pipelineId`, or `endpointName` with an optional
 * `endpointVersion`), an experiment, and either a `recurrence` or a datastore to watch.
 */
export type CreateScheduleOptions = CommonScheduleOptions & TargetOptions & TriggerOptions;

export interface ListSchedulesOptions {
  /** Only the schedules of this published pipeline. */
  pipelineId?: string;
  /** Only the schedules of this endpoint. */
  endpointName?: string;
  /** Only Active (or only Disabled) schedules. */
  status?: ScheduleStatus;
}

/** A schedule as plain JSON (what the REST layer returns). */
export interface ScheduleJSON {
  id: string;
  name: string;
  description: string;
  target: ScheduleTarget;
  experimentName: string;
  parameters: Record<string, ParameterValue>;
  kind: ScheduleKind;
  recurrence: Recurrence | null;
  datastoreWatch: DatastoreWatch | null;
  status: ScheduleStatus;
  createdAt: string;
  lastFiredAt: string | null;
  nextFireAt: string | null;
}

const DEFAULT_POLLING_INTERVAL = 5;
const EXPERIMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;
const PARAMETER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function invalid(field: string, message: string): SluiceError {
  return new SluiceError('PARAMETER_INVALID', message, { details: { field } });
}

/**
 * A schedule that submits a published pipeline (or an endpoint's pipeline) on a recurrence, or when files
 * on a datastore are added or changed. A scheduler (`createScheduler`) does the firing; the schedule is
 * the definition kept in the run store. Its status and times are read from the store on each access.
 */
export class Schedule {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly target: ScheduleTarget;
  readonly experimentName: string;
  readonly parameters: Readonly<Record<string, ParameterValue>>;
  readonly kind: ScheduleKind;
  /** The recurrence, resolved (null for a datastore watch). */
  readonly recurrence: Readonly<Recurrence> | null;
  /** The datastore watch (null for a recurrence). */
  readonly datastoreWatch: Readonly<DatastoreWatch> | null;
  readonly createdAt: string;
  readonly #ws: Workspace;

  private constructor(ws: Workspace, record: ScheduleRecord) {
    this.#ws = ws;
    this.id = record.id;
    this.name = record.name;
    this.description = record.description;
    this.target = record.target;
    this.experimentName = record.experimentName;
    this.parameters = record.parameters;
    this.kind = record.kind;
    this.recurrence = record.recurrence;
    this.datastoreWatch = record.datastoreWatch;
    this.createdAt = record.createdAt;
  }

  /** Create a schedule; it is Active at once. */
  static create(ws: Workspace, options: CreateScheduleOptions): Schedule {
    ensureScheduleTables(ws);
    if (!options || typeof options !== 'object') {
      throw invalid(
        'options',
        'Schedule.create needs options: { name, pipelineId, experimentName, recurrence }.',
      );
    }
    const { name, experimentName, description = '', parameters = {} } = options;
    if (typeof name !== 'string' || name.trim() !== name || name.length === 0 || name.length > 255) {
      throw invalid(
        'name',
        `A schedule name must be a non-empty string of up to 255 characters without leading or trailing spaces; got ${JSON.stringify(name)}.`,
      );
    }
    const target = resolveTarget(options);
    if (typeof experimentName !== 'string' || !EXPERIMENT_NAME.test(experimentName)) {
      throw invalid(
        'experimentName',
        `experimentName ${JSON.stringify(experimentName)} is not valid: use letters, digits, '_', '.', '-' (up to 255), starting with a letter or digit.`,
      );
    }
    if (typeof description !== 'string') {
      throw invalid('description', 'description must be a string.');
    }
    checkParameters(parameters);

    const createdAt = new Date();
    let kind: ScheduleKind;
    let recurrence: Recurrence | null = null;
    let watch: DatastoreWatch | null = null;
    let nextFireAt: Date | null;
    if (options.recurrence !== undefined && options.datastore !== undefined) {
      throw invalid(
        'recurrence',
        'Give either a recurrence or a datastore to watch, not both; create two schedules for both.',
      );
    }
    if (options.recurrence !== undefined) {
      kind = 'recurrence';
      recurrence = normalizeRecurrence(options.recurrence, createdAt);
      // without a start time the first run is right away (as Azure ML does); otherwise the first time due
      // from the start time on, or from now when the start time is past
      nextFireAt =
        options.recurrence.startTime === undefined ? createdAt : nextOccurrence(recurrence, createdAt);
    } else if (options.datastore !== undefined) {
      kind = 'datastore';
      watch = resolveWatch(ws, options);
      // the first look only records what is there
      nextFireAt = createdAt;
    } else {
      throw invalid(
        'recurrence',
        'A schedule needs a recurrence ({ frequency, interval, … }) or a datastore to watch ({ datastore, pathOnDatastore, pollingInterval }).',
      );
    }

    const id = randomUUID();
    ws.store.transaction(() => {
      if (sql(ws, 'SELECT 1 FROM publish_schedules WHERE name = ?').get(name)) {
        throw new SluiceError(
          'SCHEDULE_EXISTS',
          `A schedule named "${name}" already exists; choose another name, or get it with Schedule.get(ws, "${name}").`,
          { details: { schedule: name } },
        );
      }
      sql(
        ws,
        `INSERT INTO publish_schedules (id, name, description, target, experiment_name, parameters, kind,
             recurrence, datastore_watch, status, created_at, next_fire_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'Active', ?, ?)`,
      ).run(
        id,
        name,
        description,
        JSON.stringify(target),
        experimentName,
        JSON.stringify(parameters),
        kind,
        recurrence && JSON.stringify(recurrence),
        watch && JSON.stringify(watch),
        createdAt.toISOString(),
        nextFireAt?.toISOString() ?? null,
      );
    });
    return Schedule.get(ws, id);
  }

  /** A schedule by id or name; SCHEDULE_NOT_FOUND when there is none. */
  static get(ws: Workspace, idOrName: string): Schedule {
    const record = getScheduleRecord(ws, idOrName);
    if (!record) {
      throw new SluiceError(
        'SCHEDULE_NOT_FOUND',
        `No schedule "${idOrName}" in this workspace; Schedule.list(ws) shows the ones there are.`,
        { details: { schedule: idOrName } },
      );
    }
    return new Schedule(ws, record);
  }

  /** The workspace's schedules, oldest first. */
  static list(ws: Workspace, options: ListSchedulesOptions = {}): Schedule[] {
    const rows = sql(ws, 'SELECT * FROM publish_schedules ORDER BY created_at, name').all() as Array<
      Record<string, unknown>
    >;
    return rows
      .map(toSchedule)
      .filter(
        (record) =>
          (options.status === undefined || record.status === options.status) &&
          (options.pipelineId === undefined ||
            ('pipelineId' in record.target && record.target.pipelineId === options.pipelineId)) &&
          (options.endpointName === undefined ||
            ('endpointName' in record.target && record.target.endpointName === options.endpointName)),
      )
      .map((record) => new Schedule(ws, record));
  }

  #record(): ScheduleRecord {
    const record = getScheduleRecord(this.#ws, this.id);
    if (!record) {
      throw new SluiceError('SCHEDULE_NOT_FOUND', `Schedule "${this.name}" no longer exists.`, {
        details: { schedule: this.id },
      });
    }
    return record;
  }

  get status(): ScheduleStatus {
    return this.#record().status;
  }

  /** When a scheduler last handled a due time of this schedule (ISO), or null. */
  get lastFiredAt(): string | null {
    return this.#record().lastFiredAt;
  }

  /** When the schedule is next due (ISO): its next firing, or a datastore watch's next look; null when Disabled. */
  get nextFireAt(): string | null {
    return this.#record().nextFireAt;
  }

  /** Stop firing. A disabled schedule keeps its definition and history; `enable()` resumes it. */
  disable(): void {
    sql(
      this.#ws,
      `UPDATE publish_schedules SET status = 'Disabled', next_fire_at = NULL, last_seen = NULL WHERE id = ?`,
    ).run(this.id);
  }

  /**
   * Fire again: a recurrence from its next time after now (times missed while disabled are not made up);
   * a datastore watch looks at the datastore at the next tick and fires for changes after that look.
   */
  enable(): void {
    this.#ws.store.transaction(() => {
      if (this.#record().status === 'Active') return;
      const now = new Date();
      const next = this.recurrence ? nextOccurrence(this.recurrence, now) : now;
      sql(
        this.#ws,
        `UPDATE publish_schedules SET status = 'Active', next_fire_at = ?, last_seen = NULL WHERE id = ?`,
      ).run(next?.toISOString() ?? null, this.id);
    });
  }

  /**
   * The first time the recurrence fires strictly after `after` (default: now), never before its start
   * time; null for a datastore watch (it fires when files change) or a recurrence that never fires again.
   */
  nextFireTime(after: Date = new Date()): Date | null {
    return this.recurrence ? nextOccurrence(this.recurrence, after) : null;
  }

  /** The schedule's firings, newest first. */
  firings(options: { limit?: number } = {}): Firing[] {
    return (
      sql(
        this.#ws,
        `SELECT f.*, s.name AS schedule_name FROM publish_schedules_firings f
           JOIN publish_schedules s ON s.id = f.schedule_id WHERE f.schedule_id = ? ORDER BY f.id DESC LIMIT ?`,
      ).all(this.id, options.limit ?? 100) as Array<Record<string, unknown>>
    ).map(toFiring);
  }

  toJSON(): ScheduleJSON {
    const record = this.#record();
    return {
      id: record.id,
      name: record.name,
      description: record.description,
      target: record.target,
      experimentName: record.experimentName,
      parameters: record.parameters,
      kind: record.kind,
      recurrence: record.recurrence,
      datastoreWatch: record.datastoreWatch,
      status: record.status,
      createdAt: record.createdAt,
      lastFiredAt: record.lastFiredAt,
      nextFireAt: record.nextFireAt,
    };
  }
}

function resolveTarget(options: TargetOptions): ScheduleTarget {
  const { pipelineId, endpointName, endpointVersion } = options as {
    pipelineId?: unknown;
    endpointName?: unknown;
    endpointVersion?: unknown;
  };
  if ((pipelineId === undefined) === (endpointName === undefined)) {
    throw invalid(
      'pipelineId',
      'A schedule targets a published pipeline (pipelineId) or an endpoint (endpointName, with an optional endpointVersion): give exactly one of them.',
    );
  }
  if (pipelineId !== undefined) {
    if (typeof pipelineId !== 'string' || pipelineId === '') {
      throw invalid('pipelineId', 'pipelineId must be the id of a published pipeline (a non-empty string).');
    }
    if (endpointVersion !== undefined) {
      throw invalid('endpointVersion', 'endpointVersion goes with endpointName, not with pipelineId.');
    }
    return { pipelineId };
  }
  if (typeof endpointName !== 'string' || endpointName === '') {
    throw invalid(
      'endpointName',
      'endpointName must be the name of a pipeline endpoint (a non-empty string).',
    );
  }
  if (endpointVersion === undefined) return { endpointName };
  if (typeof endpointVersion !== 'string' || endpointVersion === '') {
    throw invalid(
      'endpointVersion',
      'endpointVersion must be a version of the endpoint (a non-empty string); leave it out for the default version.',
    );
  }
  return { endpointName, version: endpointVersion };
}

function checkParameters(parameters: unknown): void {
  if (!parameters || typeof parameters !== 'object' || Array.isArray(parameters)) {
    throw invalid('parameters', 'parameters must be an object of parameter names to values.');
  }
  for (const [name, value] of Object.entries(parameters)) {
    const ok =
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value));
    if (!ok) {
      throw invalid(
        `parameters.${name}`,
        `Parameter "${name}" must be a string, a finite number or a boolean; got ${JSON.stringify(value)}.`,
      );
    }
  }
}

function resolveWatch(
  ws: Workspace,
  options: Extract<TriggerOptions, { datastore: unknown }>,
): DatastoreWatch {
  const datastore = typeof options.datastore === 'string' ? options.datastore : options.datastore?.name;
  if (typeof datastore !== 'string' || datastore === '') {
    throw invalid('datastore', 'datastore must be the name of a workspace datastore (or the datastore).');
  }
  ws.datastore(datastore); // DATASTORE_NOT_FOUND, naming the registered ones
  const pathOnDatastore = normaliseStorePath(datastore, options.pathOnDatastore ?? '');
  const pollingInterval = options.pollingInterval ?? DEFAULT_POLLING_INTERVAL;
  if (typeof pollingInterval !== 'number' || !Number.isFinite(pollingInterval) || pollingInterval <= 0) {
    throw invalid(
      'pollingInterval',
      `pollingInterval is the number of minutes between two looks at the datastore and must be above 0; got ${JSON.stringify(pollingInterval)}.`,
    );
  }
  const watch: DatastoreWatch = { datastore, pathOnDatastore, pollingInterval };
  if (options.dataPathParameterName !== undefined) {
    if (
      typeof options.dataPathParameterName !== 'string' ||
      !PARAMETER_NAME.test(options.dataPathParameterName)
    ) {
      throw invalid(
        'dataPathParameterName',
        `dataPathParameterName ${JSON.stringify(options.dataPathParameterName)} is not a parameter name: use letters, digits, '_', '.', '-', starting with a letter or '_'.`,
      );
    }
    watch.dataPathParameterName = options.dataPathParameterName;
  }
  return watch;
}
