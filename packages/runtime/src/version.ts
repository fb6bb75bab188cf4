import pkg from '../package.json' with { type: 'json' };

export const RUNTIME_VERSION: string = pkg.version;
/** The `@sluice/core` versions this runtime's built-in plugins support: its peer dependency range. */
export const CORE_RANGE: string = pkg.peerDependencies['@sluice/core'];
