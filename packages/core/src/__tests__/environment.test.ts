import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Environment, diffFingerprints, isSluiceError, valuePart } from '../index.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-core-env-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('Environment packages', () => {
  it('inherits the interpreter when nothing is installed, and builds when something is', () => {
    expect(new Environment({ name: 'plain' }).inherits).toBe(true);
    expect(new Environment({ name: 'built', pip: ['numpy==2.1'] }).inherits).toBe(false);
    expect(new Environment({ name: 'empty', inherit: false }).inherits).toBe(false);
    // legacy expected packages are recorded, never installed
    expect(new Environment({ name: 'legacy', packages: ['numpy'] }).inherits).toBe(true);
  });

  it('refuses inherit: true with packages to install, saying what to do', () => {
    const error = thrown(() => new Environment({ name: 'e', pip: ['numpy'], inherit: true }));
    expect(isSluiceError(error, 'PIPELINE_INVALID')).toBe(true);
    expect((error as Error).message).toContain('drop inherit');
  });

  it('reads a requirements file now, and its definition reads back the same', () => {
    const requirements = file('requirements.txt', 'tinypkg==1.0\n');
    const env = Environment.fromPipRequirements('req', requirements);
    expect(env.requirements).toBe('tinypkg==1.0\n');
    expect(env.inherits).toBe(false);
    const back = new Environment(env.toJSON());
    expect(back.toJSON()).toEqual(env.toJSON());
    expect(back.buildDefinition()).toEqual(env.buildDefinition());
  });

  it('resolves a local wheelhouse to an absolute folder and keeps the index options', () => {
    const env = new Environment({ name: 'offline', pip: ['tinypkg'], findLinks: ['wheels'], noIndex: true });
    expect(env.index).toEqual({ findLinks: [resolve('wheels')], noIndex: true });
    expect(env.toJSON()).toMatchObject({ findLinks: [resolve('wheels')], noIndex: true });
  });

  it('names the file it cannot read', () => {
    const error = thrown(() => Environment.fromPipRequirements('gone', join(dir, 'nothing.txt')));
    expect(isSluiceError(error, 'PIPELINE_INVALID')).toBe(true);
    expect((error as Error).message).toContain('nothing.txt');
  });

  it('checks the new options', () => {
    expect(() => new Environment({ name: 'e', pip: 'numpy' as never })).toThrow(/pip must be an array/);
    expect(() => new Environment({ name: 'e', noIndex: 'yes' as never })).toThrow(/noIndex/);
    expect(() => new Environment({ name: 'e', python: { version: '' } })).toThrow(/python.version/);
  });
});

describe('Environment.fromCondaSpecification', () => {
  it("takes the pip: section and the python= pin, and conda's own packages and channels", () => {
    const spec = file(
      'conda.yml',
      `name: project_environment
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - scikit-learn=1.4
  - pip:
      - azureml-dataprep[fuse,pandas]
      - tinypkg==1.0
`,
    );
    const env = Environment.fromCondaSpecification('dataprep', spec);
    expect(env.python.version).toBe('3.11');
    expect(env.pip).toEqual(['azureml-dataprep[fuse,pandas]', 'tinypkg==1.0']);
    expect(env.condaPackages).toEqual(['scikit-learn=1.4']);
    expect(env.condaChannels).toEqual(['conda-forge']);
    expect(env.inherits).toBe(false);
    expect(new Environment(env.toJSON()).buildDefinition()).toEqual(env.buildDefinition());
  });

  it('needs no conda when the file holds only Python and pip packages', () => {
    const spec = file('pip-only.yml', 'dependencies:\n  - python==3.11.4\n  - pip:\n    - tinypkg\n');
    const env = Environment.fromCondaSpecification('pip-only', spec);
    expect(env.condaPackages).toEqual([]);
    expect(env.python.version).toBe('3.11.4');
  });

  it('says what is wrong with a file that is not a conda environment', () => {
    for (const text of ['dependencies: [', 'just text', 'dependencies:\n  - {conda: x}\n']) {
      const error = thrown(() => Environment.fromCondaSpecification('bad', file('bad.yml', text)));
      expect(isSluiceError(error, 'PIPELINE_INVALID')).toBe(true);
      expect((error as Error).message).toContain('bad.yml');
    }
  });
});

describe('explaining a changed environment lock', () => {
  const part = (packages: string[], python = '3.11.2'): ReturnType<typeof valuePart> =>
    valuePart('environment', { name: 'train', version: '1', lock: { python, packages } });

  it('names the package that changed, was added or removed', () => {
    const [change] = diffFingerprints(
      [part(['numpy==1.26.4', 'old==1.0', 'six==1.16.0'])],
      [part(['numpy==2.0.1', 'six==1.16.0', 'tinypkg==2.0'])],
    );
    expect(change?.message).toBe('environment: numpy 1.26.4 → 2.0.1, old 1.0 removed, tinypkg 2.0 added');
  });

  it('names a new Python', () => {
    const [change] = diffFingerprints([part([], '3.11.2')], [part([], '3.12.1')]);
    expect(change?.message).toBe('environment: Python 3.11.2 → 3.12.1');
  });
});
