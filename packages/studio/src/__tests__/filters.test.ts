import { describe, expect, it } from 'vitest';
import { filtersToQuery, matchesFilters, parseFilters, runsPath } from '../app/lib/filters.js';
import { href, parseHash } from '../app/lib/route.js';

const run = {
  experiment: 'iris',
  status: 'Failed',
  pipelineName: 'train',
  runSource: 'REST',
  tags: { team: 'ml', ticket: '' },
};

describe('run filters in the URL', () => {
  it('round-trip through a query string, unknown keys and empty values left out', () => {
    const filters = parseFilters('status=Failed&bogus=1&experiment=&tag=team%3Aml');
    expect(filters).toEqual({ status: 'Failed', tag: 'team:ml' });
    expect(filtersToQuery(filters)).toBe('status=Failed&tag=team%3Aml');
    expect(parseFilters(filtersToQuery(filters))).toEqual(filters);
    expect(filtersToQuery({})).toBe('');
  });

  it('make the path of a page of runs', () => {
    expect(runsPath({})).toBe('runs');
    expect(runsPath({ experiment: 'iris' }, { limit: 50, before: 'abc' })).toBe(
      'runs?experiment=iris&limit=50&before=abc',
    );
  });

  it('tell whether a run belongs in a filtered list', () => {
    expect(matchesFilters(run, {})).toBe(true);
    expect(matchesFilters(run, { experiment: 'iris', status: 'Failed', source: 'REST' })).toBe(true);
    expect(matchesFilters(run, { status: 'Finished' })).toBe(false);
    expect(matchesFilters(run, { pipeline: 'other' })).toBe(false);
    expect(matchesFilters(run, { tag: 'team:ml' })).toBe(true);
    expect(matchesFilters(run, { tag: 'team:ops' })).toBe(false);
    expect(matchesFilters(run, { tag: 'ticket' })).toBe(true);
    expect(matchesFilters(run, { tag: 'missing' })).toBe(false);
  });
});

describe('hash routes', () => {
  it('decode segments and the query', () => {
    const route = parseHash('#/runs/a%2Fb/steps/train%20it?x=1');
    expect(route.segments).toEqual(['runs', 'a/b', 'steps', 'train it']);
    expect(route.query.get('x')).toBe('1');
    expect(parseHash('').segments).toEqual([]);
  });

  it('encode what they decode', () => {
    const link = href(['runs', 'a/b', 'steps', 'train it'], 'x=1');
    expect(link).toBe('#/runs/a%2Fb/steps/train%20it?x=1');
    expect(parseHash(link).segments).toEqual(['runs', 'a/b', 'steps', 'train it']);
  });
});
