import { DataReference, PipelineData, PipelineParameter, PluginRegistry } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import {
  AdlaStep,
  adlaCompute,
  type AdlaComputeTarget,
  adlaComputeProvider,
  adlaStep,
  sluicePlugins,
  type AdlaStepOptions,
} from '../index.js';
import { scriptPlaceholders } from '../script.js';
import { expectCode } from './helpers.js';

const raw = new DataReference({
  datastore: 'workspaceblobstore',
  pathOnDatastore: 'raw/orders.csv',
  name: 'orders',
});

function step(options: Partial<AdlaStepOptions> = {}): AdlaStep {
  return new AdlaStep({
    name: 'summarise',
    scriptName: 'summarise.usql',
    sourceDirectory: 'usql',
    computeTarget: 'adla',
    inputs: [raw],
    outputs: [new PipelineData('summary')],
    ...options,
  });
}

describe('AdlaStep', () => {
  it('keeps its settings with the defaults of the service', () => {
    const region = new PipelineParameter({ name: 'region', defaultValue: 'EU' });
    const built = step({ params: { region, minAmount: 10 } });
    expect(built.kind).toBe('adla');
    expect(built.computeTarget).toBe('adla');
    expect(built.parameters).toEqual([region]);
    expect(built.config).toEqual({
      scriptName: 'summarise.usql',
      params: { region, minAmount: 10 },
      degreeOfParallelism: 1,
      priority: 1000,
    });
    expect(built.plugin?.remoteData).toBe(true);
    expect(Object.isFrozen(built)).toBe(true);
  });

  it.each([
    [{ scriptName: '' }, /needs a scriptName/],
    [{ scriptName: '/abs/summarise.usql' }, /is absolute/],
    [{ scriptName: '../summarise.usql' }, /leaves sourceDirectory/],
    [{ scriptName: 'summarise.py' }, /not a U-SQL script; an AdlaStep runs a \.usql file/],
    [{ sourceDirectory: ' ' }, /needs a sourceDirectory/],
    [{ computeTarget: undefined }, /needs a computeTarget/],
    [{ degreeOfParallelism: 0 }, /degreeOfParallelism must be a whole number ≥ 1/],
    [{ priority: 1.5 }, /priority must be a whole number ≥ 1/],
    [{ runtimeVersion: '' }, /runtimeVersion/],
    [{ params: { 'bad name': 1 } }, /cannot be written as @@name@@/],
    [{ params: { x: {} as never } }, /must be a string, a finite number, a boolean or a PipelineParameter/],
    [{ params: { orders: 'x' } }, /names both a param and an input or output/],
  ] as Array<[Partial<AdlaStepOptions>, RegExp]>)(
    'refuses %o with STEP_INVALID',
    async (options, message) => {
      const error = await expectCode(() => step(options), 'STEP_INVALID');
      expect(error.message).toMatch(message);
    },
  );

  it('fingerprints script, params (in any order), degreeOfParallelism, priority and runtimeVersion', () => {
    const region = new PipelineParameter({ name: 'region', defaultValue: 'EU' });
    const parts = (options: Partial<AdlaStepOptions>) => {
      const built = step(options);
      return built.plugin!.fingerprint(built);
    };
    const a = parts({ params: { region, minAmount: 10 }, priority: 5, runtimeVersion: 'r1' });
    expect(a).toEqual([
      { name: 'script', value: 'summarise.usql' },
      { name: 'params', value: { minAmount: 10, region: { parameter: 'region' } } },
      { name: 'degreeOfParallelism', value: 1 },
      { name: 'priority', value: 5 },
      { name: 'runtimeVersion', value: 'r1' },
    ]);
    expect(parts({ params: { minAmount: 10, region }, priority: 5, runtimeVersion: 'r1' })).toEqual(a);
    expect(parts({})).toContainEqual({ name: 'runtimeVersion', value: null });
  });
});

describe('plugins', () => {
  it('declare this package, its version and its core range, and register together', () => {
    for (const plugin of sluicePlugins()) {
      expect(plugin).toMatchObject({ name: '@sluice/step-adla', version: pkg.version, coreRange: '^0.1.0' });
      expect(plugin.kind).toBe('adla');
    }
    expect(sluicePlugins().map((plugin) => plugin.type)).toEqual(['step', 'compute']);
    const registry = new PluginRegistry();
    registry.use(adlaStep()).use(adlaComputeProvider());
    expect(registry.has('step', 'adla') && registry.has('compute', 'adla')).toBe(true);
  });
});

describe('adlaCompute', () => {
  const base = { accountName: 'contosoadla', resourceGroup: 'analytics', credential: 'default' as const };

  it('builds a configuration that holds references, never tokens', async () => {
    expect(adlaCompute({ ...base, credential: { token: { env: 'ADLA_TOKEN' } } })).toEqual({
      provider: 'adla',
      options: { ...base, credential: { token: { env: 'ADLA_TOKEN' } } },
    });
    const error = await expectCode(
      () => adlaCompute({ ...base, credential: { token: 'eyJ0eXAi.secret' as never } }),
      'WORKSPACE_CONFIG_INVALID',
    );
    expect(error.message).toMatch(/plain text.*attachAdlaCompute/);
    expect(error.message).not.toContain('eyJ0eXAi.secret');
  });

  it('makes targets that describe the account and where the token comes from', () => {
    const target = adlaComputeProvider().createTarget('adla', base, {
      workspaceDir: '.',
      secret: () => undefined,
    }) as AdlaComputeTarget;
    expect(target.describe()).toEqual({
      provider: 'adla',
      accountName: 'contosoadla',
      resourceGroup: 'analytics',
      jobEndpoint: 'https://contosoadla.azuredatalakeanalytics.net',
      credential: 'DefaultAzureCredential',
      pollIntervalMs: 5000,
    });
    expect(target.describe()).toBe(target.describe());
  });

  it.each([
    [{ accountName: 'Contoso_ADLA' }, /not a Data Lake Analytics account name/],
    [{ resourceGroup: '' }, /resourceGroup is needed/],
    [{ jobEndpoint: 'http://adla.example.com' }, /must use https/],
    [{ jobEndpoint: 'https://adla.example.com?sig=x' }, /plain base URL/],
    [{ credential: { token: { file: 'x' } } }, /credential must be/],
    [{ pollIntervalMs: -1 }, /pollIntervalMs/],
  ] as Array<[Record<string, unknown>, RegExp]>)('refuses %o', async (options, message) => {
    const error = await expectCode(
      () => adlaCompute({ ...base, ...options } as never),
      'WORKSPACE_CONFIG_INVALID',
    );
    expect(error.message).toMatch(message);
  });
});

describe('scriptPlaceholders', () => {
  it('lists each @@name@@ once, in order', () => {
    expect(scriptPlaceholders('FROM "@@in@@" TO "@@out@@/x" WHERE a == "@@in@@" AND @b == @@p.1@@')).toEqual([
      'in',
      'out',
      'p.1',
    ]);
  });
});
