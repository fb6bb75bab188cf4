import type { SluiceErrorCode } from '@sluice/core';

/** Databricks refused the access token (HTTP 401/403). */
export const AUTH_FAILED_CODE: SluiceErrorCode = 'COMPUTE_AUTH_FAILED';

/** Databricks rejected a request (HTTP 400/404 with its `error_code`), kept failing (429, 5xx) or could not be reached. */
export const REQUEST_FAILED_CODE: SluiceErrorCode = 'COMPUTE_REQUEST_FAILED';
