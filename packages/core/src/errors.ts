/**
 * Every error Sluice raises for a user's mistake or an environment problem carries one of these codes.
 * The message says what went wrong and what to do about it; `cause` keeps the underlying error.
 */
export const ERROR_CODES = [
  // pipeline building
  'PIPELINE_INVALID',
  'PIPELINE_EMPTY',
  'STEP_INVALID',
  'STEP_NAME_DUPLICATE',
  'CYCLE_DETECTED',
  'OUTPUT_PRODUCED_TWICE',
  'INPUT_NOT_PRODUCED',
  'PARAMETER_INVALID',
  'PARAMETER_CONFLICT',
  'PARAMETER_UNKNOWN',
  'PARAMETER_TYPE',
  // plugins
  'PLUGIN_INVALID',
  'PLUGIN_KIND_DUPLICATE',
  'PLUGIN_CORE_MISMATCH',
  'PLUGIN_NOT_REGISTERED',
  'PLUGIN_NOT_INSTALLED',
  // workspace and resources
  'WORKSPACE_NOT_FOUND',
  'WORKSPACE_EXISTS',
  'WORKSPACE_CONFIG_INVALID',
  'OPTION_INVALID',
  'SECRET_NOT_FOUND',
  'COMPUTE_NOT_FOUND',
  'COMPUTE_EXISTS',
  'COMPUTE_AUTH_FAILED',
  'COMPUTE_UNAVAILABLE',
  'COMPUTE_REQUEST_FAILED',
  'COMPUTE_NOT_INSTALLED',
  'COMPUTE_FILESYSTEM_NOT_SHARED',
  'DATASTORE_NOT_FOUND',
  'DATASTORE_PATH_ESCAPE',
  'DATASTORE_FILE_EXISTS',
  'DATASTORE_PATH_NOT_FOUND',
  'ENVIRONMENT_NOT_FOUND',
  'ENVIRONMENT_CONFLICT',
  'ENVIRONMENT_BUILD_FAILED',
  'ENVIRONMENT_PACKAGE_NOT_FOUND',
  'ENVIRONMENT_INTERPRETER_NOT_FOUND',
  'ENVIRONMENT_PYTHON_MISMATCH',
  'CONDA_NOT_INSTALLED',
  'SOURCE_DIRECTORY_NOT_FOUND',
  'SCRIPT_NOT_FOUND',
  'ARGUMENT_INVALID',
  'DATASET_INVALID',
  'DATASET_NOT_FOUND',
  'DATASET_VERSION_NOT_FOUND',
  'DATASET_CHANGED',
  'DATASTORE_AUTH_FAILED',
  'DATASTORE_TRANSFER_FAILED',
  // runs
  'RUN_NOT_FOUND',
  'RUN_NOT_ACTIVE',
  'EXPERIMENT_NOT_FOUND',
  'STEP_RUN_NOT_FOUND',
  'OUTPUT_NOT_FOUND',
  'OUTPUT_NOT_AVAILABLE',
  'INPUT_NOT_AVAILABLE',
  'STEP_FAILED',
  'RUN_FAILED',
  'RUN_CANCELED',
  'RUN_STORE_ERROR',
  'RUN_STORE_BUSY',
  'PIPELINE_FILE_INVALID',
  // publishing and serving
  'PUBLISHED_PIPELINE_NOT_FOUND',
  'PUBLISHED_PIPELINE_DISABLED',
  'ENDPOINT_NOT_FOUND',
  'ENDPOINT_EXISTS',
  'ENDPOINT_DISABLED',
  'ENDPOINT_VERSION_NOT_FOUND',
  'SCHEDULE_NOT_FOUND',
  'SCHEDULE_EXISTS',
  'TOKEN_NOT_FOUND',
  'AUTH_REQUIRED',
  'AUTH_INVALID',
  'AUTH_FORBIDDEN',
  'REQUEST_INVALID',
  'REQUEST_TOO_LARGE',
  'REQUEST_TIMEOUT',
  'ROUTE_NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'SERVICE_UNAVAILABLE',
  'WAIT_TIMEOUT',
  'INTERNAL_ERROR',
] as const;

export type SluiceErrorCode = (typeof ERROR_CODES)[number];

export interface SluiceErrorOptions {
  cause?: unknown;
  /** Structured facts about the error (step names, paths, …) for programs that handle it. */
  details?: Record<string, unknown>;
}

export class SluiceError extends Error {
  override readonly name = 'SluiceError';
  /** Errors from another copy of @sluice/core count too: a coded error named SluiceError is one. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      value instanceof Error &&
      value.name === 'SluiceError' &&
      typeof (value as { code?: unknown }).code === 'string'
    );
  }
  readonly code: SluiceErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: SluiceErrorCode, message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  toJSON(): { code: SluiceErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isSluiceError(error: unknown, code?: SluiceErrorCode): error is SluiceError {
  return error instanceof SluiceError && (code === undefined || error.code === code);
}
