import type { ErrorCode } from './codes.js';

/**
 * The one table from error codes to HTTP statuses. A code not listed here is the server's problem: 500.
 */
export const HTTP_STATUS: Readonly<Partial<Record<ErrorCode, number>>> = {
  // the request itself
  REQUEST_INVALID: 400,
  PARAMETER_UNKNOWN: 400,
  PARAMETER_TYPE: 400,
  PARAMETER_INVALID: 400,
  ARGUMENT_INVALID: 400,
  DATASTORE_NOT_FOUND: 400,
  DATASTORE_PATH_ESCAPE: 400,
  INPUT_NOT_AVAILABLE: 400,
  DATASET_NOT_FOUND: 400,
  REQUEST_TOO_LARGE: 413,
  REQUEST_TIMEOUT: 408,
  // who asks
  AUTH_REQUIRED: 401,
  AUTH_INVALID: 401,
  AUTH_FORBIDDEN: 403,
  // what is asked for
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PUBLISHED_PIPELINE_NOT_FOUND: 404,
  ENDPOINT_NOT_FOUND: 404,
  ENDPOINT_VERSION_NOT_FOUND: 404,
  RUN_NOT_FOUND: 404,
  STEP_RUN_NOT_FOUND: 404,
  OUTPUT_NOT_FOUND: 404,
  EXPERIMENT_NOT_FOUND: 404,
  DATASET_VERSION_NOT_FOUND: 404,
  TOKEN_NOT_FOUND: 404,
  SCHEDULE_NOT_FOUND: 404,
  // the state it is in
  PUBLISHED_PIPELINE_DISABLED: 409,
  ENDPOINT_DISABLED: 409,
  ENDPOINT_EXISTS: 409,
  SCHEDULE_EXISTS: 409,
  DATASET_CHANGED: 409,
  RUN_NOT_ACTIVE: 409,
  OUTPUT_NOT_AVAILABLE: 409,
  SERVICE_UNAVAILABLE: 503,
  RUN_STORE_BUSY: 503,
  INTERNAL_ERROR: 500,
};

/** The HTTP status of an error code (500 for codes that are not the caller's doing). */
export function httpStatusOf(code: string): number {
  return HTTP_STATUS[code as ErrorCode] ?? 500;
}
