import { BRAND, hasBrand } from './brand.js';
import { SluiceError } from './errors.js';

export interface EnvironmentOptions {
  name: string;
  version?: string;
  python?: { interpreter?: string };
  environmentVariables?: Record<string, string>;
  /** Packages the environment is expected to provide (recorded and fingerprinted; not installed by Sluice). */
  packages?: string[];
}

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
  readonly packages: readonly string[];

  constructor(options: EnvironmentOptions) {
    if (!options || typeof options.name !== 'string' || options.name.trim() === '') {
      throw new SluiceError('PIPELINE_INVALID', 'An Environment needs a name.');
    }
    this.name = options.name;
    this.version = options.version ?? '1';
    this.python = { interpreter: options.python?.interpreter ?? 'python3' };
    const vars = options.environmentVariables ?? {};
    for (const [key, value] of Object.entries(vars)) {
      if (typeof value !== 'string') {
        throw new SluiceError(
          'PIPELINE_INVALID',
          `Environment "${this.name}": environment variable ${key} must be a string.`,
        );
      }
    }
    this.environmentVariables = { ...vars };
    this.packages = [...(options.packages ?? [])];
  }

  toJSON(): EnvironmentOptions & { version: string } {
    return {
      name: this.name,
      version: this.version,
      python: { ...this.python },
      environmentVariables: { ...this.environmentVariables },
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
