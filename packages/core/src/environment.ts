import { BRAND, hasBrand } from './brand.js';
import { SluiceError } from './errors.js';

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
}

/** How a step is run: today, which environment. */
export class RunConfiguration {
  readonly [BRAND] = 'RunConfiguration';
  static [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, 'RunConfiguration');
  }
  readonly environment: Environment | EnvironmentReference | undefined;
  constructor(options: RunConfigurationOptions = {}) {
    this.environment = options.environment;
  }
}
