import type { ComputeSummary, DatastoreSummary, ScheduleSummary } from '@sluice/publish';
import { useQuery } from '@tanstack/react-query';
import { Loaded, Status, Table, type Column } from '../components/common.js';
import { api } from '../lib/api.js';
import { formatRelative, formatTime } from '../lib/format.js';
import { href } from '../lib/route.js';

const scheduleColumns: Array<Column<ScheduleSummary>> = [
  { title: 'Name', cell: (schedule) => schedule.name },
  { title: 'Status', cell: (schedule) => <Status status={schedule.status} /> },
  {
    title: 'Runs',
    cell: ({ target }) =>
      'pipelineId' in target ? (
        <a href={href(['pipelines'])} className="mono">
          {target.pipelineId}
        </a>
      ) : (
        <a href={href(['endpoints'])}>
          {target.endpoint}
          {target.version ? ` v${target.version}` : ' (default version)'}
        </a>
      ),
  },
  {
    title: 'Experiment',
    cell: (schedule) => (
      <a href={href(['runs'], `experiment=${encodeURIComponent(schedule.experimentName)}`)}>
        {schedule.experimentName}
      </a>
    ),
  },
  { title: 'Trigger', cell: (schedule) => schedule.trigger },
  {
    title: 'Next fire',
    cell: (schedule) =>
      schedule.nextFireAt
        ? `${formatTime(schedule.nextFireAt)} (${formatRelative(schedule.nextFireAt)})`
        : '—',
  },
  { title: 'Last fired', cell: (schedule) => formatTime(schedule.lastFiredAt) },
];

export function SchedulesPage() {
  const schedules = useQuery({ queryKey: ['schedules'], queryFn: api.schedules });
  return (
    <div>
      <h1>Schedules</h1>
      <Loaded query={schedules}>
        {(rows) => (
          <Table
            rows={rows}
            columns={scheduleColumns}
            rowKey={(row) => row.name}
            testId="schedules"
            empty="No schedules."
          />
        )}
      </Loaded>
    </div>
  );
}

function Options({ options }: { options: Record<string, unknown> }) {
  const entries = Object.entries(options);
  if (entries.length === 0) return <span className="muted">—</span>;
  return (
    <span className="mono small-text">
      {entries
        .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
        .join(', ')}
    </span>
  );
}

const computeColumns: Array<Column<ComputeSummary>> = [
  { title: 'Name', cell: (target) => target.name },
  { title: 'Provider', cell: (target) => target.provider },
  { title: 'Options', cell: (target) => <Options options={target.options} /> },
];

export function ComputePage() {
  const compute = useQuery({ queryKey: ['compute'], queryFn: api.compute });
  return (
    <div>
      <h1>Compute targets</h1>
      <Loaded query={compute}>
        {(rows) => <Table rows={rows} columns={computeColumns} rowKey={(row) => row.name} testId="compute" />}
      </Loaded>
    </div>
  );
}

const datastoreColumns: Array<Column<DatastoreSummary>> = [
  { title: 'Name', cell: (store) => store.name },
  { title: 'Provider', cell: (store) => store.provider },
  { title: 'Default', cell: (store) => (store.isDefault ? 'default' : '') },
  { title: 'Description', cell: (store) => <Options options={store.description} /> },
];

export function DatastoresPage() {
  const datastores = useQuery({ queryKey: ['datastores'], queryFn: api.datastores });
  return (
    <div>
      <h1>Datastores</h1>
      <Loaded query={datastores}>
        {(rows) => (
          <Table rows={rows} columns={datastoreColumns} rowKey={(row) => row.name} testId="datastores" />
        )}
      </Loaded>
    </div>
  );
}
