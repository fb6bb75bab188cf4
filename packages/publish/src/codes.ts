import type { SluiceErrorCode } from '@sluice/core';

/** The codes this package raises beyond pipelines and runs (all listed in `@sluice/core`'s ERROR_CODES). */
export const PUBLISH_ERROR_CODES = [
  'PUBLISHED_PIPELINE_NOT_FOUND',
  'PUBLISHED_PIPELINE_DISABLED',
  'ENDPOINT_NOT_FOUND',
  'ENDPOINT_EXISTS',
  'ENDPOINT_DISABLED',
  'ENDPOINT_VERSION_NOT_FOUND',
  'SCHEDULE_NOT_FOUND',
  'SCHEDULE_EXISTS',
  'TOKEN_NOT_FOUND',
  'RUN_NOT_ACTIVE',
  'EXPERIMENT_NOT_FOUND',
  'DATASET_VERSION_NOT_FOUND',
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
] as const satisfies readonly SluiceErrorCode[];

export type PublishErrorCode = (typeof PUBLISH_ERROR_CODES)[number];

/** Every code an error from this package (or a Sluice server) can carry. */
export type ErrorCode = SluiceErrorCode;
