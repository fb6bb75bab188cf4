/** The runs list's filters, kept in the page's URL (`#/runs?experiment=…&status=…`). */

export interface RunFilters {
  experiment?: string;
  status?: string;
  pipeline?: string;
  /** `key:value` */
  tag?: string;
  source?: string;
}

export const FILTER_KEYS = ['experiment', 'status', 'pipeline', 'tag', 'source'] as const;

/** The filters a query string names; unknown keys and empty values are left out. */
export function parseFilters(query: URLSearchParams | string): RunFilters {
  const params = typeof query === 'string' ? new URLSearchParams(query) : query;
  const filters: RunFilters = {};
  for (const key of FILTER_KEYS) {
    const value = params.get(key)?.trim();
    if (value) filters[key] = value;
  }
  return filters;
}

/** The query string of filters, keys in a fixed order so equal filters give equal strings ('' when none). */
export function filtersToQuery(filters: RunFilters): string {
  const params = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const value = filters[key]?.trim();
    if (value) params.set(key, value);
  }
  return params.toString();
}

/** The path of `GET /runs` for one page of filtered runs. */
export function runsPath(filters: RunFilters, page: { limit?: number; before?: string } = {}): string {
  const params = new URLSearchParams(filtersToQuery(filters));
  if (page.limit !== undefined) params.set('limit', String(page.limit));
  if (page.before) params.set('before', page.before);
  const query = params.toString();
  return query ? `runs?${query}` : 'runs';
}

interface FilterableRun {
  experiment: string;
  status: string;
  pipelineName: string;
  runSource: string;
  tags: Record<string, string>;
}

/** Whether a run (say, one an event announced) belongs in a list of these filters. */
export function matchesFilters(run: FilterableRun, filters: RunFilters): boolean {
  if (filters.experiment && run.experiment !== filters.experiment) return false;
  if (filters.status && run.status !== filters.status) return false;
  if (filters.pipeline && run.pipelineName !== filters.pipeline) return false;
  if (filters.source && run.runSource !== filters.source) return false;
  if (filters.tag) {
    const at = filters.tag.indexOf(':');
    const key = at < 0 ? filters.tag : filters.tag.slice(0, at);
    if (!(key in run.tags)) return false;
    if (at >= 0 && run.tags[key] !== filters.tag.slice(at + 1)) return false;
  }
  return true;
}
