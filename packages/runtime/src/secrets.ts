import { SECRET_PREFIX, SluiceError, type Environment } from '@sluice/core';

/** The environment variable that holds a workspace secret for the runner: `SLUICE_SECRET_<NAME>`. */
export function secretVariable(name: string): string {
  return `${SECRET_PREFIX}${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

function notFound(step: string, environment: Environment, variable: string, secret: string): SluiceError {
  return new SluiceError(
    'SECRET_NOT_FOUND',
    `Step "${step}": environment "${environment.name}" gives ${variable} the workspace secret "${secret}", which is not set. Set it with ws.setSecret('${secret}', …) or the runner's environment variable ${secretVariable(secret)}.`,
    { details: { step, environment: environment.name, variable, secret } },
  );
}

/** At submit: every secret an environment refers to is set (SECRET_NOT_FOUND names the first that is not). */
export function checkSecretReferences(
  step: string,
  environment: Environment | undefined,
  lookup: (secret: string) => string | undefined,
): void {
  for (const [variable, secret] of Object.entries(environment?.secretEnvironmentVariables ?? {})) {
    if (lookup(secret) === undefined) throw notFound(step, environment!, variable, secret);
  }
}

/**
 * The variables a step's process gets: the runner's own without its `SLUICE_SECRET_*` ones, the
 * environment's variables, and its secret variables with the secrets' values (looked up now, at step start).
 * `secrets` are the values to mask in what the step prints.
 */
export function stepEnvironment(
  step: string,
  environment: Environment | undefined,
  lookup: (secret: string) => string | undefined,
): { env: Record<string, string>; secrets: string[] } {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith(SECRET_PREFIX)) env[key] = value;
  }
  Object.assign(env, environment?.environmentVariables);
  const secrets: string[] = [];
  for (const [variable, secret] of Object.entries(environment?.secretEnvironmentVariables ?? {})) {
    const value = lookup(secret);
    if (value === undefined) throw notFound(step, environment!, variable, secret);
    env[variable] = value;
    secrets.push(value);
  }
  return { env, secrets };
}

const MASK = '***';
const MASK_BYTES = Buffer.from(MASK);

/** Replaces secret values with `***` in text, and in output streams that may split a value across chunks. */
export class SecretMask {
  readonly #values: string[] = [];
  #bytes: Buffer[] = [];

  /** Mask these values from now on (empty values are ignored). */
  add(values: Iterable<string>): void {
    for (const value of values) {
      if (value === '' || this.#values.includes(value)) continue;
      this.#values.push(value);
    }
    // longer first, so a value that contains another is masked whole
    this.#values.sort((a, b) => b.length - a.length);
    this.#bytes = this.#values.map((value) => Buffer.from(value));
  }

  text(text: string): string {
    let masked = text;
    for (const value of this.#values) masked = masked.replaceAll(value, MASK);
    return masked;
  }

  /**
   * A masker for one output stream: `write` returns what can be passed on now, holding back an end that
   * could be the start of a secret; `end` returns what is left.
   */
  stream(): { write(chunk: string | Buffer): Buffer; end(): Buffer } {
    let pending = Buffer.alloc(0);
    return {
      write: (chunk) => {
        const data = Buffer.concat([pending, typeof chunk === 'string' ? Buffer.from(chunk) : chunk]);
        if (this.#bytes.length === 0) {
          pending = Buffer.alloc(0);
          return data;
        }
        const out: Buffer[] = [];
        let start = 0;
        for (;;) {
          let found = -1;
          let length = 0;
          for (const secret of this.#bytes) {
            const at = data.indexOf(secret, start);
            if (at >= 0 && (found < 0 || at < found)) {
              found = at;
              length = secret.length;
            }
          }
          if (found < 0) break;
          out.push(data.subarray(start, found), MASK_BYTES);
          start = found + length;
        }
        let keep = 0;
        for (const secret of this.#bytes) {
          for (let size = Math.min(secret.length - 1, data.length - start); size > keep; size--) {
            if (data.subarray(data.length - size).equals(secret.subarray(0, size))) {
              keep = size;
              break;
            }
          }
        }
        out.push(data.subarray(start, data.length - keep));
        pending = Buffer.from(data.subarray(data.length - keep));
        return Buffer.concat(out);
      },
      end: () => {
        const rest = pending;
        pending = Buffer.alloc(0);
        return rest;
      },
    };
  }
}
