import type { ExplanationDetail, GraphNode } from '@sluice/publish';
import { describe, expect, it } from 'vitest';
import { compareSteps, lastMetrics, sideBySide } from '../app/lib/compare.js';
import { initialValues, toAssignments, type ParameterDefinition } from '../app/lib/submit-form.js';

describe('comparing two runs', () => {
  it('sets parameters side by side with differences marked', () => {
    expect(sideBySide({ lr: 0.1, epochs: 5 }, { lr: 0.2, epochs: 5, seed: 1 })).toEqual([
      { key: 'epochs', a: 5, b: 5, differs: false },
      { key: 'lr', a: 0.1, b: 0.2, differs: true },
      { key: 'seed', a: undefined, b: 1, differs: true },
    ]);
  });

  it('keeps the last value of each step metric', () => {
    const logged = (step: string, name: string, value: number) => ({ step, name, value, loggedAt: '' });
    expect(
      lastMetrics([logged('train', 'loss', 3), logged('train', 'loss', 1), logged('eval', 'acc', 0.9)]),
    ).toEqual({
      'train/loss': 1,
      'eval/acc': 0.9,
    });
  });

  it('tells which steps did different work and why', () => {
    const graph = (statuses: Record<string, GraphNode['status']>) => ({
      graph: {
        nodes: Object.entries(statuses).map(([id, status]) => ({
          id,
          type: 'step' as const,
          label: id,
          status,
        })),
        edges: [],
      },
    });
    const why = (
      step: string,
      decision: ExplanationDetail['decision'],
      reasons: string[],
    ): ExplanationDetail => ({
      step,
      stepRunId: `${step}-run`,
      status: decision === 'REUSED' ? 'Reused' : 'Finished',
      decision,
      reasons,
    });
    const rows = compareSteps(
      graph({ prep: 'Finished', train: 'Finished' }),
      [why('prep', 'RAN', ['first run']), why('train', 'RAN', ['first run'])],
      graph({ prep: 'Reused', train: 'Finished', extra: 'Finished' }),
      [why('prep', 'REUSED', ['nothing changed']), why('train', 'RAN', ['parameter lr changed'])],
    );
    expect(rows.map((row) => [row.step, row.differs])).toEqual([
      ['prep', true],
      ['train', false],
      ['extra', true],
    ]);
    expect(rows[0]!.b?.reasons).toEqual(['nothing changed']);
    expect(rows[2]!.a).toBeNull();
  });
});

describe('the submit form', () => {
  const parameters: ParameterDefinition[] = [
    { Name: 'lr', Type: 'number', DefaultValue: 0.1 },
    { Name: 'name', Type: 'string', DefaultValue: 'x' },
    { Name: 'fast', Type: 'boolean', DefaultValue: false },
  ];

  it('fills in the defaults', () => {
    expect(initialValues(parameters)).toEqual({ lr: '0.1', name: 'x', fast: false });
  });

  it('sends typed values that differ from the defaults', () => {
    expect(toAssignments(parameters, { lr: '0.1', name: 'x', fast: false })).toEqual({
      assignments: {},
      errors: {},
    });
    expect(toAssignments(parameters, { lr: '0.5', name: 'y', fast: true })).toEqual({
      assignments: { lr: 0.5, name: 'y', fast: true },
      errors: {},
    });
  });

  it('says which number is not one', () => {
    expect(toAssignments(parameters, { lr: 'fast', name: 'x', fast: false }).errors).toEqual({
      lr: 'lr needs a number; got "fast".',
    });
  });
});
