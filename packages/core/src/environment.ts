import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type * as Yaml from 'yaml';
import { BRAND, hasBrand } from './brand.js';
import { SluiceError } from './errors.js';
import type { ComputeResources } from './plugins.js';

/** Packages an environment is expected to provide, in the original SDK's shape. */
export interface CondaDependencies {
  condaPackages: string[];
  pipPackages: string[];
}

export const CondaDependencies = {
  /** `CondaDependencies.create(conda_packages, pip_packages)`: recorded and fingerprinted, not installed. */
  create(
    options: { condaPackages?: string[]; pipPackages?: string[]; pinSdkVersion?: boolean } = {},
  ): CondaDependencies {
    const list = (value: unknown, field: string): string[] => {
      if (value === undefined) return [];
      if (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string')) {
        throw new SluiceError(
          'PIPELINE_INVALID',
          `CondaDependencies.create: ${field} must be an array of package names, e.g. ['pandas', 'scikit-learn'].`,
        );
      }
      return [...(value as string[])];
    };
    if (typeof options !== 'object' || options === null) {
      throw new SluiceError(
        'PIPELINE_INVALID',
        "CondaDependencies.create takes { condaPackages?, pipPackages? }, e.g. { pipPackages: ['pandas'] }.",
      );
    }
    return {
      condaPackages: list(options.condaPackages, 'condaPackages'),
      pipPackages: list(options.pipPackages, 'pipPackages'),
    };
  },
};

export interface EnvironmentPython {
  interpreter: string;
  /** The Python version the environment needs (`'3.11'` matches 3.11.x); checked when it is built. */
  version?: string;
  /** Accepted for familiarity (`user_managed_dependencies`); Sluice never installs packages. */
  userManagedDependencies?: boolean;
  /** Packages the environment is expected to provide (added to `packages` in the definition). */
  condaDependencies?: CondaDependencies;
}

/** Where pip finds packages; default: pip's own configuration (`PIP_INDEX_URL`, pip.conf), else PyPI. */
export interface PipIndexOptions {
  /** `--index-url`: the package index instead of PyPI. */
  indexUrl?: string;
  /** `--extra-index-url`, each: more indexes to look in. */
  extraIndexUrls?: string[];
  /** `--find-links`, each: folders of wheels (a local wheelhouse) or pages linking to them. */
  findLinks?: string[];
  /** `--no-index`: use no index at all, only `findLinks` (offline machines). */
  noIndex?: boolean;
}

export interface EnvironmentOptions extends PipIndexOptions {
  name: string;
  version?: string;
  python?: {
    interpreter?: string;
    version?: string;
    userManagedDependencies?: boolean;
    condaDependencies?: CondaDependencies;
  };
  environmentVariables?: Record<string, string>;
  /**
   * Variables whose values are workspace secrets, by secret name: `{ API_KEY: 'api-key' }`. Resolved when the
   * step starts (`ws.setSecret` or `SLUICE_SECRET_<NAME>`), given to the step's process, masked as `***` in
   * its logs; only the names are recorded and fingerprinted.
   */
  secretEnvironmentVariables?: Record<string, string>;
  /** Packages the environment is expected to provide (recorded and fingerprinted; not installed by Sluice). */
  packages?: string[];
  /** Requirements pip installs into the environment when it is built, e.g. `['scikit-learn==1.4.2']`. */
  pip?: string[];
  /** A pip requirements file, read now: its text is part of the definition (see `requirements`). */
  requirementsFile?: string;
  /** The text of a pip requirements file (what `requirementsFile` reads; kept by `toJSON`). */
  requirements?: string;
  /** Conda packages (not Python itself, not pip's), installed with conda or micromamba when it is built. */
  condaPackages?: string[];
  /** Conda channels to install `condaPackages` from, e.g. `['conda-forge']`. */
  condaChannels?: string[];
  /**
   * Run in the interpreter as it is (nothing built or installed; its version and installed distributions
   * are recorded and fingerprinted). Default: true when the environment has no pip, requirements or conda
   * packages, else false (a virtual environment is built).
   */
  inherit?: boolean;
}

/** Variables that hold the runner's workspace secrets (`SLUICE_SECRET_<NAME>`); never passed to a step. */
export const SECRET_PREFIX = 'SLUICE_SECRET_';

/** A name a process environment can hold: anything but an empty name, "=" or a NUL byte. */
const VARIABLE_NAME = /^[^=\0]+$/;

/** What a step runs in: interpreter, packages and environment variables, named and versioned. */
export class Environment {
  readonly [BRAND] = 'Environment';
  static [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, 'Environment');
  }
  /** The name and version may be changed until the environment is first used, as in the original SDK. */
  name: string;
  version: string;
  readonly python: EnvironmentPython;
  readonly environmentVariables: Readonly<Record<string, string>>;
  /** Variable name → workspace secret name. */
  readonly secretEnvironmentVariables: Readonly<Record<string, string>>;
  readonly packages: readonly string[];
  /** Requirements pip installs when the environment is built. */
  readonly pip: readonly string[];
  /** The text of the environment's pip requirements file, if it has one. */
  readonly requirements: string | undefined;
  readonly condaPackages: readonly string[];
  readonly condaChannels: readonly string[];
  readonly index: Readonly<PipIndexOptions>;
  /** As given; see `inherits` for what applies. */
  readonly inherit: boolean | undefined;

  constructor(options: EnvironmentOptions) {
    if (!options || typeof options.name !== 'string' || options.name.trim() === '') {
      throw new SluiceError(
        'PIPELINE_INVALID',
        "An Environment needs a name, e.g. new Environment({ name: 'train-env', version: '1' }).",
      );
    }
    this.name = options.name;
    if (options.version !== undefined && typeof options.version !== 'string') {
      throw new SluiceError(
        'PIPELINE_INVALID',
        `Environment "${options.name}": version must be a string, e.g. '1'; got ${JSON.stringify(options.version)}.`,
      );
    }
    this.version = options.version ?? '1';
    this.python = { interpreter: options.python?.interpreter ?? 'python3' };
    if (options.python?.version !== undefined) this.python.version = options.python.version;
    if (options.python?.userManagedDependencies !== undefined) {
      this.python.userManagedDependencies = options.python.userManagedDependencies;
    }
    if (options.python?.condaDependencies !== undefined) {
      this.python.condaDependencies = options.python.condaDependencies;
    }
    const vars = plainRecord(options.environmentVariables, this.name, 'environmentVariables');
    const secrets = plainRecord(options.secretEnvironmentVariables, this.name, 'secretEnvironmentVariables');
    const invalid = (problem: string): SluiceError =>
      new SluiceError('PIPELINE_INVALID', `Environment "${this.name}": ${problem}`, {
        details: { environment: this.name },
      });
    for (const [key, value] of Object.entries(vars)) {
      if (typeof value !== 'string') throw invalid(`environment variable ${key} must be a string.`);
      if (!VARIABLE_NAME.test(key) || value.includes('\0')) {
        throw invalid(
          `environment variable ${JSON.stringify(key)} cannot be given to a process; a name has no "=" or NUL byte, a value no NUL byte.`,
        );
      }
      if (key.startsWith(SECRET_PREFIX)) {
        throw invalid(
          `${key}: variables named ${SECRET_PREFIX}* hold the runner's secrets and are not passed to steps; give a step a secret with secretEnvironmentVariables: { ${key.slice(SECRET_PREFIX.length) || 'NAME'}: '<secret name>' }.`,
        );
      }
    }
    for (const [key, secret] of Object.entries(secrets)) {
      if (!VARIABLE_NAME.test(key) || key.startsWith(SECRET_PREFIX)) {
        throw invalid(
          `secret environment variable ${JSON.stringify(key)} is not a name a step's variable can have (no "=", no NUL byte, not ${SECRET_PREFIX}*).`,
        );
      }
      if (typeof secret !== 'string' || secret === '') {
        throw invalid(
          `secret environment variable ${key} must name a workspace secret (a non-empty string).`,
        );
      }
      if (key in vars) {
        throw invalid(`${key} is both an environment variable and a secret environment variable; keep one.`);
      }
    }
    this.environmentVariables = { ...vars };
    this.secretEnvironmentVariables = { ...secrets };
    if (
      options.packages !== undefined &&
      (!Array.isArray(options.packages) || options.packages.some((entry) => typeof entry !== 'string'))
    ) {
      throw invalid("packages must be an array of package names, e.g. ['numpy==2.1'].");
    }
    this.packages = [...(options.packages ?? [])];
    const strings = (value: unknown, field: string, example: string): string[] => {
      if (value === undefined) return [];
      if (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string' || entry.trim() === '')) {
        throw invalid(`${field} must be an array of strings, e.g. ${example}.`);
      }
      return [...(value as string[])];
    };
    const text = (value: unknown, field: string): string | undefined => {
      if (value !== undefined && (typeof value !== 'string' || value.trim() === '')) {
        throw invalid(`${field} must be a non-empty string.`);
      }
      return value as string | undefined;
    };
    text(options.python?.interpreter, 'python.interpreter');
    text(options.python?.version, "python.version (e.g. '3.11')");
    this.pip = strings(options.pip, 'pip', "['scikit-learn==1.4.2']");
    if (options.requirementsFile !== undefined && options.requirements !== undefined) {
      throw invalid('give requirementsFile or requirements (its text), not both.');
    }
    this.requirements =
      options.requirementsFile !== undefined
        ? readEnvironmentFile(text(options.requirementsFile, 'requirementsFile')!, this.name, 'requirements')
        : text(options.requirements, 'requirements');
    this.condaPackages = strings(options.condaPackages, 'condaPackages', "['pandas=2.2']");
    this.condaChannels = strings(options.condaChannels, 'condaChannels', "['conda-forge']");
    // a local wheelhouse is the same folder wherever the step is run from
    const findLinks = strings(options.findLinks, 'findLinks', "['./wheels']").map((entry) =>
      entry.includes('://') ? entry : resolve(entry),
    );
    const extraIndexUrls = strings(
      options.extraIndexUrls,
      'extraIndexUrls',
      "['https://example.org/simple']",
    );
    if (options.noIndex !== undefined && typeof options.noIndex !== 'boolean') {
      throw invalid('noIndex must be true or false.');
    }
    this.index = {
      ...(text(options.indexUrl, 'indexUrl') === undefined ? {} : { indexUrl: options.indexUrl }),
      ...(extraIndexUrls.length > 0 ? { extraIndexUrls } : {}),
      ...(findLinks.length > 0 ? { findLinks } : {}),
      ...(options.noIndex ? { noIndex: true } : {}),
    };
    if (options.inherit !== undefined && typeof options.inherit !== 'boolean') {
      throw invalid('inherit must be true or false.');
    }
    this.inherit = options.inherit;
    if (this.inherit === true && this.#installs) {
      throw invalid(
        'inherit: true runs the interpreter as it is, so nothing can be installed into it; drop inherit to have the pip/conda packages installed into a built environment, or drop the packages.',
      );
    }
  }

  /** Whether anything is installed when the environment is built. */
  get #installs(): boolean {
    return this.pip.length > 0 || this.requirements !== undefined || this.condaPackages.length > 0;
  }

  /**
   * Whether steps run in the interpreter as it is (true), or in an environment built for them (false):
   * `inherit` when given, else true exactly when nothing is to be installed.
   */
  get inherits(): boolean {
    return this.inherit ?? !this.#installs;
  }

  /**
   * What building the environment depends on (the interpreter, what is installed and from where), not its
   * name or variables: environments with the same build share one.
   */
  buildDefinition(): Record<string, unknown> {
    return {
      python: {
        interpreter: this.python.interpreter,
        ...(this.python.version ? { version: this.python.version } : {}),
      },
      inherit: this.inherits,
      pip: [...this.pip],
      ...(this.requirements === undefined ? {} : { requirements: this.requirements }),
      ...(this.condaPackages.length > 0
        ? { conda: { packages: [...this.condaPackages], channels: [...this.condaChannels] } }
        : {}),
      index: { ...this.index },
    };
  }

  /** `Environment.from_pip_requirements(name, file_path)`: pip installs the requirements file's packages. */
  static fromPipRequirements(name: string, file: string): Environment {
    return new Environment({ name, requirementsFile: file });
  }

  /**
   * `Environment.from_conda_specification(name, file_path)`: the `pip:` packages and the `python=` pin of a
   * conda environment file; its other packages are installed with conda or micromamba when one is found.
   */
  static fromCondaSpecification(name: string, file: string): Environment {
    const text = readEnvironmentFile(file, name, 'conda specification');
    let spec: unknown;
    try {
      // loaded only here: reading YAML is rare, and the parser should not slow every program's start
      const yaml = createRequire(import.meta.url)('yaml') as typeof Yaml;
      spec = yaml.parse(text);
    } catch (error) {
      throw new SluiceError(
        'PIPELINE_INVALID',
        `Environment "${name}": ${file} is not valid YAML (${(error as Error).message}); a conda environment file lists "dependencies:", e.g. - python=3.11 and - pip: [numpy==2.1].`,
        { cause: error, details: { environment: name, file } },
      );
    }
    return new Environment({ name, ...condaSpecification(spec, name, file) });
  }

  /** The definition as data: secret variables appear by secret name, never by value. */
  toJSON(): EnvironmentOptions & { version: string } {
    return {
      name: this.name,
      version: this.version,
      // conda dependencies are listed in packages, so a definition read back is the same definition
      python: { interpreter: this.python.interpreter },
      environmentVariables: { ...this.environmentVariables },
      // only when there are some, so definitions (and fingerprints) from before stay the same
      ...(Object.keys(this.secretEnvironmentVariables).length > 0
        ? { secretEnvironmentVariables: { ...this.secretEnvironmentVariables } }
        : {}),
      packages: [
        ...this.packages,
        // only when set, so definitions (and fingerprints) from before stay the same
        ...(this.python.condaDependencies?.condaPackages ?? []),
        ...(this.python.condaDependencies?.pipPackages ?? []),
      ],
      // only when set, so definitions (and fingerprints) from before stay the same
      ...(this.python.version === undefined
        ? {}
        : { python: { interpreter: this.python.interpreter, version: this.python.version } }),
      ...(this.pip.length > 0 ? { pip: [...this.pip] } : {}),
      ...(this.requirements === undefined ? {} : { requirements: this.requirements }),
      ...(this.condaPackages.length > 0 ? { condaPackages: [...this.condaPackages] } : {}),
      ...(this.condaChannels.length > 0 ? { condaChannels: [...this.condaChannels] } : {}),
      ...this.index,
      ...(this.inherit === undefined ? {} : { inherit: this.inherit }),
    };
  }

  /** `Environment.get(ws, name, version?)`: an environment registered in the workspace. */
  static get<E>(
    workspace: { getEnvironment(name: string, version?: string): E },
    name: string,
    version?: string,
  ): E {
    if (typeof workspace?.getEnvironment !== 'function') {
      throw new SluiceError(
        'PIPELINE_INVALID',
        `Environment.get needs a workspace first, e.g. Environment.get(ws, ${JSON.stringify(name)}).`,
      );
    }
    return workspace.getEnvironment(name, version);
  }
}

function readEnvironmentFile(file: string, environment: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new SluiceError(
      'PIPELINE_INVALID',
      `Environment "${environment}": cannot read the ${what} file ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give the path of an existing file (relative paths are from ${process.cwd()}).`,
      { cause: error, details: { environment, file } },
    );
  }
}

/** A conda package name and its version pin (`python=3.11`, `python==3.11.4`, `python 3.11`). */
const CONDA_PIN = /^([A-Za-z0-9_.-]+)\s*(?:(==?|\s)\s*([0-9][^\s]*))?$/;

/** The options a conda environment file gives: python version, conda packages and channels, pip packages. */
function condaSpecification(
  spec: unknown,
  name: string,
  file: string,
): Pick<EnvironmentOptions, 'python' | 'pip' | 'condaPackages' | 'condaChannels'> {
  const invalid = (problem: string): SluiceError =>
    new SluiceError('PIPELINE_INVALID', `Environment "${name}": ${file} ${problem}`, {
      details: { environment: name, file },
    });
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) {
    throw invalid('is not a conda environment file: it has no "dependencies:" list.');
  }
  const { dependencies = [], channels = [] } = spec as { dependencies?: unknown; channels?: unknown };
  if (!Array.isArray(dependencies)) throw invalid('has "dependencies:" that is not a list.');
  if (!Array.isArray(channels) || channels.some((channel) => typeof channel !== 'string')) {
    throw invalid('has "channels:" that is not a list of names.');
  }
  let version: string | undefined;
  const pip: string[] = [];
  const conda: string[] = [];
  for (const dependency of dependencies as unknown[]) {
    if (typeof dependency === 'string') {
      const match = CONDA_PIN.exec(dependency.trim());
      const package_ = match?.[1]?.toLowerCase();
      // pip itself is in every built environment
      if (package_ === 'pip' && !match?.[3]) continue;
      if (package_ === 'python' && match) {
        version = match[3];
        continue;
      }
      conda.push(dependency.trim());
    } else if (
      dependency &&
      typeof dependency === 'object' &&
      Array.isArray((dependency as { pip?: unknown }).pip)
    ) {
      for (const requirement of (dependency as { pip: unknown[] }).pip) {
        if (typeof requirement !== 'string')
          throw invalid('has a pip: entry that is not a requirement string.');
        pip.push(requirement);
      }
    } else {
      throw invalid(
        `has a dependency that is neither a package nor a pip: list: ${JSON.stringify(dependency)}.`,
      );
    }
  }
  return {
    ...(version === undefined ? {} : { python: { version: version.replace(/\.\*$/, '') } }),
    pip,
    condaPackages: conda,
    condaChannels: channels as string[],
  };
}

function plainRecord(value: unknown, environment: string, field: string): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SluiceError(
      'PIPELINE_INVALID',
      `Environment "${environment}": ${field} must be an object of name → value, e.g. { LOG_LEVEL: 'info' }.`,
      { details: { environment } },
    );
  }
  return value as Record<string, string>;
}

/** A reference to an environment registered in the workspace. */
export interface EnvironmentReference {
  name: string;
  version?: string;
}

export interface RunConfigurationOptions {
  environment?: Environment | EnvironmentReference;
  /** The compute target of steps that name none themselves. */
  target?: string | { readonly name: string };
  /**
   * What the step asks of a cluster scheduler (e.g. Slurm): CPUs, memory, GPUs, a time limit, node features.
   * Overrides the compute target's defaults; local compute ignores it. Not part of the step's fingerprint.
   */
  resources?: ComputeResources;
}

/** The environment a new RunConfiguration starts with: python3, nothing else; rename it to keep it apart. */
export const DEFAULT_ENVIRONMENT_NAME = 'sluice-default';

/**
 * How a step is run: the environment, the compute target for steps that name none, and what it asks of a
 * cluster scheduler. As in the original SDK, a new one holds an environment to adjust in place
 * (`runConfig.environment.name = 'MyEnvironment'`).
 */
export class RunConfiguration {
  readonly [BRAND] = 'RunConfiguration';
  static [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, 'RunConfiguration');
  }
  environment: Environment | EnvironmentReference;
  target: string | { readonly name: string } | undefined;
  readonly resources: Readonly<ComputeResources> | undefined;
  constructor(options: RunConfigurationOptions = {}) {
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new SluiceError(
        'PIPELINE_INVALID',
        'RunConfiguration takes an options object, e.g. new RunConfiguration({ environment, target }).',
      );
    }
    const environment: unknown = options.environment;
    if (
      environment !== undefined &&
      !(environment instanceof Environment) &&
      (typeof environment !== 'object' ||
        environment === null ||
        typeof (environment as { name?: unknown }).name !== 'string')
    ) {
      throw new SluiceError(
        'PIPELINE_INVALID',
        `RunConfiguration: environment must be an Environment or { name, version? } of a registered one; got ${JSON.stringify(environment)}.`,
      );
    }
    this.environment = options.environment ?? new Environment({ name: DEFAULT_ENVIRONMENT_NAME });
    this.target = options.target;
    this.resources = options.resources === undefined ? undefined : checkResources(options.resources);
  }
}

const RESOURCE_CHECKS: Record<keyof ComputeResources, [(value: unknown) => boolean, string]> = {
  cpus: [(value) => Number.isInteger(value) && (value as number) > 0, 'a whole number of CPUs above 0'],
  gpus: [(value) => Number.isInteger(value) && (value as number) >= 0, 'a whole number of GPUs (0 or more)'],
  memory: [
    (value) => typeof value === 'string' && /^[0-9]+[KMGT]?$/i.test(value),
    "an amount like '500M' or '4G'",
  ],
  time: [
    (value) =>
      (Number.isInteger(value) && (value as number) > 0) ||
      (typeof value === 'string' && /^(\d+-)?\d+(:\d{1,2}){0,2}$/.test(value)),
    "minutes (a whole number) or a Slurm time like '30:00', '02:00:00' or '1-00:00:00'",
  ],
  constraint: [
    (value) => typeof value === 'string' && value.trim() !== '',
    "node features like 'avx2&bigmem'",
  ],
};

/** Check compute resources, with a coded error naming the wrong one and what it should be. */
export function checkResources(
  resources: ComputeResources,
  where = 'RunConfiguration resources',
): ComputeResources {
  if (resources === null || typeof resources !== 'object' || Array.isArray(resources)) {
    throw new SluiceError('OPTION_INVALID', `${where} must be an object like { cpus: 2, memory: '4G' }.`);
  }
  for (const [key, value] of Object.entries(resources)) {
    const check = RESOURCE_CHECKS[key as keyof ComputeResources];
    if (!check) {
      throw new SluiceError(
        'OPTION_INVALID',
        `${where}: unknown resource "${key}"; known: ${Object.keys(RESOURCE_CHECKS).join(', ')}.`,
      );
    }
    if (value !== undefined && !check[0](value)) {
      throw new SluiceError(
        'OPTION_INVALID',
        `${where}: ${key} must be ${check[1]}, not ${JSON.stringify(value)}.`,
      );
    }
  }
  return Object.freeze({ ...resources });
}
