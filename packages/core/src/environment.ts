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
  /** Accepted for familiarity (`user_managed_dependencies`); Sluice never installs packages. */
  userManagedDependencies?: boolean;
  /** Packages the environment is expected to provide (added to `packages` in the definition). */
  condaDependencies?: CondaDependencies;
}

export interface EnvironmentOptions {
  name: string;
  version?: string;
  python?: { interpreter?: string; userManagedDependencies?: boolean; condaDependencies?: CondaDependencies };
  environmentVariables?: Record<string, string>;
  /**
   * Variables whose values are workspace secrets, by secret name: `{ API_KEY: 'api-key' }`. Resolved when the
   * step starts (`ws.setSecret` or `SLUICE_SECRET_<NAME>`), given to the step's process, masked as `***` in
   * its logs; only the names are recorded and fingerprinted.
   */
  secretEnvironmentVariables?: Record<string, string>;
  /** Packages the environment is expected to provide (recorded and fingerprinted; not installed by Sluice). */
  packages?: string[];
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
