import { BRAND, hasBrand } from './brand.js';
import { SluiceError } from './errors.js';
import type { ComputeResources } from './plugins.js';

export interface EnvironmentOptions {
  name: string;
  version?: string;
  python?: { interpreter?: string };
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
  readonly name: string;
  readonly version: string;
  readonly python: { interpreter: string };
  readonly environmentVariables: Readonly<Record<string, string>>;
  /** Variable name → workspace secret name. */
  readonly secretEnvironmentVariables: Readonly<Record<string, string>>;
  readonly packages: readonly string[];

  constructor(options: EnvironmentOptions) {
    if (!options || typeof options.name !== 'string' || options.name.trim() === '') {
      throw new SluiceError('PIPELINE_INVALID', 'An Environment needs a name.');
    }
    this.name = options.name;
    this.version = options.version ?? '1';
    this.python = { interpreter: options.python?.interpreter ?? 'python3' };
    const vars = options.environmentVariables ?? {};
    const secrets = options.secretEnvironmentVariables ?? {};
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
    this.packages = [...(options.packages ?? [])];
  }

  /** The definition as data: secret variables appear by secret name, never by value. */
  toJSON(): EnvironmentOptions & { version: string } {
    return {
      name: this.name,
      version: this.version,
      python: { ...this.python },
      environmentVariables: { ...this.environmentVariables },
      // only when there are some, so definitions (and fingerprints) from before stay the same
      ...(Object.keys(this.secretEnvironmentVariables).length > 0
        ? { secretEnvironmentVariables: { ...this.secretEnvironmentVariables } }
        : {}),
      packages: [...this.packages],
    };
  }
}

/** A reference to an environment registered in the workspace. */
export interface EnvironmentReference {
  name: string;
  version?: string;
}

export interface RunConfigurationOptions {
  environment?: Environment | EnvironmentReference;
  /**
   * What the step asks of a cluster scheduler (e.g. Slurm): CPUs, memory, GPUs, a time limit, node features.
   * Overrides the compute target's defaults; local compute ignores it. Not part of the step's fingerprint.
   */
  resources?: ComputeResources;
}

/** How a step is run: which environment, and what it asks of a cluster scheduler. */
export class RunConfiguration {
  readonly [BRAND] = 'RunConfiguration';
  static [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, 'RunConfiguration');
  }
  readonly environment: Environment | EnvironmentReference | undefined;
  readonly resources: Readonly<ComputeResources> | undefined;
  constructor(options: RunConfigurationOptions = {}) {
    this.environment = options.environment;
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
