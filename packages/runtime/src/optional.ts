import { SluiceError } from '@sluice/core';

/**
 * Load an optional package (one Sluice does not depend on) when a feature needs it. The specifier is a
 * variable so bundlers leave the import to run time; when the package is not installed the error says
 * which one to install.
 */
export async function loadOptional<T>(name: string, feature: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
    if (code === 'ERR_MODULE_NOT_FOUND' && typeof message === 'string' && message.includes(`'${name}'`)) {
      throw new SluiceError(
        'PLUGIN_NOT_INSTALLED',
        `${feature} needs ${name}; install it with npm install ${name}`,
        { cause: error, details: { package: name, feature } },
      );
    }
    throw error;
  }
}
