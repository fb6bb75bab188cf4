import pkg from '../package.json' with { type: 'json' };

export const PACKAGE_NAME: string = pkg.name;
export const STEP_ADLA_VERSION: string = pkg.version;
/** The `@sluice/core` versions this plugin supports: its peer dependency range. */
export const CORE_RANGE: string = pkg.peerDependencies['@sluice/core'];
