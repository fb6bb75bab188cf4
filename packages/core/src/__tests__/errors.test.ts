import { describe, expect, it } from 'vitest';
import { ERROR_CODES, Environment, RunConfiguration, SluiceError, isSluiceError } from '../index.js';
import { sluiceErrorOf } from './helpers.js';

describe('SluiceError', () => {
  it('carries a code, a message, details and a name', () => {
    const error = new SluiceError('STEP_FAILED', 'Step "train" failed.', { details: { step: 'train' } });
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(SluiceError);
    expect(error.name).toBe('SluiceError');
    expect(error.code).toBe('STEP_FAILED');
    expect(error.message).toBe('Step "train" failed.');
    expect(error.details).toEqual({ step: 'train' });
    expect(String(error)).toBe('SluiceError: Step "train" failed.');
    expect(error.stack).toContain('Step "train" failed.');
  });

  it('defaults details to an empty object and has no cause unless one is given', () => {
    const error = new SluiceError('RUN_FAILED', 'x');
    expect(error.details).toEqual({});
    expect('cause' in error).toBe(false);
    expect(error.cause).toBeUndefined();
  });

  it('keeps the cause', () => {
    const cause = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    const error = new SluiceError('SCRIPT_NOT_FOUND', 'train.py is missing', { cause });
    expect(error.cause).toBe(cause);
    // a falsy cause is still a cause
    expect(new SluiceError('RUN_FAILED', 'x', { cause: 0 }).cause).toBe(0);
    expect('cause' in new SluiceError('RUN_FAILED', 'x', { cause: null })).toBe(true);
  });

  it('serialises to code, message and details (not the cause or the stack)', () => {
    const error = new SluiceError('OUTPUT_NOT_FOUND', 'no output "model"', {
      details: { output: 'model' },
      cause: new Error('inner'),
    });
    expect(error.toJSON()).toEqual({
      code: 'OUTPUT_NOT_FOUND',
      message: 'no output "model"',
      details: { output: 'model' },
    });
    expect(JSON.parse(JSON.stringify({ error }))).toEqual({
      error: { code: 'OUTPUT_NOT_FOUND', message: 'no output "model"', details: { output: 'model' } },
    });
  });

  it('isSluiceError checks the class and, if given, the code', () => {
    const error = new SluiceError('CYCLE_DETECTED', 'cycle');
    expect(isSluiceError(error)).toBe(true);
    expect(isSluiceError(error, 'CYCLE_DETECTED')).toBe(true);
    expect(isSluiceError(error, 'PIPELINE_EMPTY')).toBe(false);
    expect(isSluiceError(new Error('cycle'))).toBe(false);
    // a look-alike is not one
    expect(
      isSluiceError({ name: 'SluiceError', code: 'CYCLE_DETECTED', message: 'cycle' }, 'CYCLE_DETECTED'),
    ).toBe(false);
    expect(isSluiceError(undefined)).toBe(false);
  });

  it('has a list of distinct codes covering those core raises', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const code of [
      'PIPELINE_EMPTY',
      'STEP_NAME_DUPLICATE',
      'CYCLE_DETECTED',
      'OUTPUT_PRODUCED_TWICE',
      'PARAMETER_CONFLICT',
      'INPUT_NOT_PRODUCED',
      'PLUGIN_CORE_MISMATCH',
      'DATASTORE_PATH_NOT_FOUND',
    ] as const) {
      expect(ERROR_CODES).toContain(code);
    }
  });
});

describe('Environment and RunConfiguration', () => {
  it('fills defaults and copies what it is given', () => {
    const vars = { SEED: '1' };
    const packages = ['scikit-learn==1.5'];
    const env = new Environment({ name: 'sklearn', environmentVariables: vars, packages });
    vars.SEED = '2';
    packages.push('pandas');
    expect(env.toJSON()).toEqual({
      name: 'sklearn',
      version: '1',
      python: { interpreter: 'python3' },
      environmentVariables: { SEED: '1' },
      packages: ['scikit-learn==1.5'],
    });
    expect(
      new Environment({ name: 'e', version: '3', python: { interpreter: 'python3.12' } }).toJSON(),
    ).toMatchObject({
      version: '3',
      python: { interpreter: 'python3.12' },
    });
  });

  it('needs a name and string environment variables', () => {
    expect(sluiceErrorOf(() => new Environment({ name: '  ' })).code).toBe('PIPELINE_INVALID');
    expect(sluiceErrorOf(() => new Environment(undefined as never)).code).toBe('PIPELINE_INVALID');
    const error = sluiceErrorOf(
      () => new Environment({ name: 'e', environmentVariables: { SEED: 1 as unknown as string } }),
    );
    expect(error.code).toBe('PIPELINE_INVALID');
    expect(error.message).toContain('SEED');
  });

  it('keeps secret environment variables by secret name, recorded only when there are some', () => {
    const env = new Environment({
      name: 'svc',
      environmentVariables: { REGION: 'eu' },
      secretEnvironmentVariables: { API_KEY: 'api-key' },
    });
    expect(env.secretEnvironmentVariables).toEqual({ API_KEY: 'api-key' });
    expect(env.toJSON()).toMatchObject({ secretEnvironmentVariables: { API_KEY: 'api-key' } });
    // definitions without secrets keep their earlier shape, so their fingerprints do not change
    expect(Object.keys(new Environment({ name: 'plain' }).toJSON())).toEqual([
      'name',
      'version',
      'python',
      'environmentVariables',
      'packages',
    ]);
    expect(new Environment(env.toJSON()).secretEnvironmentVariables).toEqual({ API_KEY: 'api-key' });
  });

  it.each([
    [
      { environmentVariables: { SLUICE_SECRET_TOKEN: 'x' } },
      'are not passed to steps; give a step a secret with secretEnvironmentVariables: { TOKEN:',
    ],
    [{ environmentVariables: { 'A=B': 'x' } }, 'cannot be given to a process'],
    [{ environmentVariables: { A: 'x\0y' } }, 'cannot be given to a process'],
    [{ secretEnvironmentVariables: { SLUICE_SECRET_X: 'x' } }, 'is not a name a step'],
    [{ secretEnvironmentVariables: { TOKEN: '' } }, 'must name a workspace secret'],
    [{ environmentVariables: { TOKEN: 'a' }, secretEnvironmentVariables: { TOKEN: 'b' } }, 'keep one'],
  ])('refuses variables a step cannot be given: %j', (options, words) => {
    const error = sluiceErrorOf(() => new Environment({ name: 'e', ...options }));
    expect(error.code).toBe('PIPELINE_INVALID');
    expect(error.message).toContain(words);
  });

  it('RunConfiguration holds the environment', () => {
    const env = new Environment({ name: 'e' });
    expect(new RunConfiguration({ environment: env }).environment).toBe(env);
    expect(new RunConfiguration().environment).toMatchObject({ name: 'sluice-default', version: '1' });
    expect(new RunConfiguration({ environment: { name: 'registered', version: '2' } }).environment).toEqual({
      name: 'registered',
      version: '2',
    });
  });
});
