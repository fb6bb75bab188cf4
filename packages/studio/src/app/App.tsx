import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense } from 'react';
import { ErrorBox } from './components/common.js';
import { api, ApiError } from './lib/api.js';
import { href } from './lib/route.js';
import { useRoute } from './lib/use-route.js';
import { ComparePage } from './pages/Compare.js';
import { DatasetsPage } from './pages/Datasets.js';
import { EndpointsPage, PipelinesPage } from './pages/Published.js';
import { RunsPage } from './pages/Runs.js';
import { SignIn } from './pages/SignIn.js';
import { ComputePage, DatastoresPage, SchedulesPage } from './pages/Workspace.js';

// the pages that draw graphs and charts load their libraries when first opened
const RunPage = lazy(() => import('./pages/Run.js').then((module) => ({ default: module.RunPage })));
const MetricsPage = lazy(() =>
  import('./pages/Metrics.js').then((module) => ({ default: module.MetricsPage })),
);

const NAV: Array<{ label: string; segment: string }> = [
  { label: 'Runs', segment: 'runs' },
  { label: 'Metrics', segment: 'experiments' },
  { label: 'Pipelines', segment: 'pipelines' },
  { label: 'Endpoints', segment: 'endpoints' },
  { label: 'Schedules', segment: 'schedules' },
  { label: 'Datasets', segment: 'datasets' },
  { label: 'Compute', segment: 'compute' },
  { label: 'Datastores', segment: 'datastores' },
];

export function App() {
  const whoami = useQuery({ queryKey: ['whoami'], queryFn: api.whoami, staleTime: Infinity });
  if (whoami.isError) {
    if (whoami.error instanceof ApiError && whoami.error.status === 401) return <SignIn />;
    return (
      <div className="page">
        <ErrorBox error={whoami.error} />
      </div>
    );
  }
  if (!whoami.data) return <div className="page muted">Loading…</div>;
  return (
    <>
      <Header
        subject={whoami.data.subject}
        scope={whoami.data.scope}
        session={whoami.data.via === 'session'}
      />
      <main className="page">
        <Suspense fallback={<div className="muted">Loading…</div>}>
          <Page />
        </Suspense>
      </main>
    </>
  );
}

function Header({ subject, scope, session }: { subject: string; scope: string; session: boolean }) {
  const route = useRoute();
  const client = useQueryClient();
  const logout = useMutation({
    mutationFn: api.logout,
    onSettled: () => client.resetQueries(),
  });
  const current = route.segments[0] ?? 'runs';
  return (
    <header className="top">
      <a className="brand" href={href(['runs'])}>
        Sluice studio
      </a>
      <nav>
        {NAV.map((item) => (
          <a
            key={item.segment}
            href={href([item.segment])}
            className={current === item.segment ? 'active' : ''}
          >
            {item.label}
          </a>
        ))}
      </nav>
      <div className="who" data-testid="whoami">
        {subject} <span className="muted">({scope})</span>
        {session && (
          <button type="button" className="small" onClick={() => logout.mutate()}>
            Sign out
          </button>
        )}
      </div>
    </header>
  );
}

function Page() {
  const { segments, query } = useRoute();
  const [first, second, third, fourth] = segments;
  switch (first) {
    case undefined:
    case 'runs':
      if (!second) return <RunsPage query={query} />;
      return <RunPage runId={second} step={third === 'steps' ? fourth : undefined} />;
    case 'compare':
      return <ComparePage a={query.get('a') ?? ''} b={query.get('b') ?? ''} />;
    case 'experiments':
      return <MetricsPage experiment={second} metric={query.get('name') ?? undefined} />;
    case 'pipelines':
      return <PipelinesPage />;
    case 'endpoints':
      return <EndpointsPage />;
    case 'schedules':
      return <SchedulesPage />;
    case 'datasets':
      return <DatasetsPage />;
    case 'compute':
      return <ComputePage />;
    case 'datastores':
      return <DatastoresPage />;
    default:
      return <ErrorBox error={new ApiError(404, 'PAGE_NOT_FOUND', `No page at #/${segments.join('/')}.`)} />;
  }
}
