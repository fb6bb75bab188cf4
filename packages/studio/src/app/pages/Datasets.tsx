import type { DatasetProfile, DatasetVersionSummary } from '@sluice/publish';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Loaded, Section, Table, type Column } from '../components/common.js';
import { api } from '../lib/api.js';
import { formatBytes, formatTime, formatValue } from '../lib/format.js';

export function DatasetsPage() {
  const datasets = useQuery({ queryKey: ['datasets'], queryFn: api.datasets });
  const [chosen, setChosen] = useState<DatasetVersionSummary | null>(null);
  const columns: Array<Column<DatasetVersionSummary>> = [
    { title: 'Name', cell: (dataset) => dataset.name },
    { title: 'Version', cell: (dataset) => dataset.version },
    { title: 'Kind', cell: (dataset) => dataset.kind },
    { title: 'Size', cell: (dataset) => formatBytes(dataset.bytes) },
    { title: 'Registered', cell: (dataset) => formatTime(dataset.createdAt) },
    { title: 'Description', cell: (dataset) => dataset.description },
    {
      title: 'Tags',
      cell: (dataset) =>
        Object.entries(dataset.tags)
          .map(([key, value]) => `${key}:${value}`)
          .join(', '),
    },
    {
      title: '',
      cell: (dataset) =>
        dataset.kind.toLowerCase().includes('tabular') && (
          <button type="button" className="small" onClick={() => setChosen(dataset)}>
            Profile
          </button>
        ),
    },
  ];
  return (
    <div>
      <h1>Datasets</h1>
      <Loaded query={datasets}>
        {(rows) => (
          <Table
            rows={rows}
            columns={columns}
            rowKey={(row) => `${row.name}/${row.version}`}
            testId="datasets"
            empty="No datasets are registered."
          />
        )}
      </Loaded>
      {chosen && <Profile dataset={chosen} />}
    </div>
  );
}

type ProfileColumn = DatasetProfile['columns'][number];
const statistic = (value: number | null) => formatValue(value ?? undefined);
const profileColumns: Array<Column<ProfileColumn>> = [
  { title: 'Column', cell: (column) => column.column },
  { title: 'Type', cell: (column) => column.type },
  { title: 'Count', cell: (column) => column.count },
  { title: 'Missing', cell: (column) => column.missing },
  { title: 'Distinct', cell: (column) => column.distinct },
  { title: 'Min', cell: (column) => statistic(column.min) },
  { title: 'Max', cell: (column) => statistic(column.max) },
  { title: 'Mean', cell: (column) => statistic(column.mean) },
  { title: 'Std', cell: (column) => statistic(column.std) },
];

function Profile({ dataset }: { dataset: DatasetVersionSummary }) {
  const profile = useQuery({
    queryKey: ['profile', dataset.name, dataset.version],
    queryFn: () => api.datasetProfile(dataset.name, dataset.version),
  });
  return (
    <Section title={`Profile of ${dataset.name} v${dataset.version}`}>
      <Loaded query={profile}>
        {(data) => (
          <>
            <div className="muted">{data.rows} rows</div>
            <Table
              rows={data.columns}
              columns={profileColumns}
              rowKey={(row) => row.column}
              testId="profile"
            />
          </>
        )}
      </Loaded>
    </Section>
  );
}
