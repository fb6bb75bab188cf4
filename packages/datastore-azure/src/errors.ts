import { SluiceError } from '@sluice/core';

/**
 * The code for rejected credentials. `DATASTORE_AUTH_FAILED` where the installed `@sluice/core` has it;
 * with a core that predates it, the closest older code (the datastore cannot be used as configured).
 */
/** What an error from the Azure SDK looks like (RestError), checked by shape so no SDK code is loaded. */
export interface AzureErrorShape {
  name?: string;
  statusCode?: number;
  code?: string;
  message?: string;
  details?: { errorCode?: string };
}

export function azureErrorCode(error: unknown): string | undefined {
  const shape = error as AzureErrorShape | undefined;
  return shape?.details?.errorCode ?? shape?.code;
}

export function statusOf(error: unknown): number | undefined {
  const status = (error as AzureErrorShape | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

export const isBlobNotFound = (error: unknown): boolean =>
  statusOf(error) === 404 && azureErrorCode(error) !== 'ContainerNotFound';

export const isAlreadyExists = (error: unknown): boolean => {
  const status = statusOf(error);
  const code = azureErrorCode(error);
  return (
    (status === 409 && code === 'BlobAlreadyExists') ||
    (status === 412 && (code === 'ConditionNotMet' || code === 'TargetConditionNotMet' || code === undefined))
  );
};

const AUTH_SERVICE_CODES = new Set([
  'AuthenticationFailed',
  'AuthorizationFailure',
  'AuthorizationPermissionMismatch',
  'AuthorizationResourceTypeMismatch',
  'AuthorizationServiceMismatch',
  'AuthorizationProtocolMismatch',
  'AuthorizationSourceIPMismatch',
  'InsufficientAccountPermissions',
  'InvalidAuthenticationInfo',
  'NoAuthenticationInformation',
]);

/** Errors raised by @azure/identity when no token can be had. */
const IDENTITY_ERRORS = new Set([
  'CredentialUnavailableError',
  'AuthenticationError',
  'AggregateAuthenticationError',
  'AuthenticationRequiredError',
]);

export const isAuthError = (error: unknown): boolean => {
  const status = statusOf(error);
  const name = (error as AzureErrorShape | undefined)?.name ?? '';
  return (
    status === 401 ||
    status === 403 ||
    AUTH_SERVICE_CODES.has(azureErrorCode(error) ?? '') ||
    IDENTITY_ERRORS.has(name)
  );
};

const NETWORK_CODES = new Set([
  'REQUEST_SEND_ERROR',
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
]);

export const isNetworkError = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && NETWORK_CODES.has(code) && statusOf(error) === undefined;
};

/** The first line of a service message (the rest is request ids and times). */
export function shortMessage(error: unknown): string {
  const message = String((error as Error | undefined)?.message ?? error);
  return message.split('\n')[0]!.trim();
}

export function isSluiceError(error: unknown): error is SluiceError {
  return error instanceof SluiceError;
}
