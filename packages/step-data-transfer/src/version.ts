import pkg from '../package.json' with { type: 'json' };

export const DATA_TRANSFER_VERSION: string = pkg.version;
export const PACKAGE_NAME: string = pkg.name;
/** The `@sluice/core` versions this plugin supports: its peer dependency range. */
export const CORE_RANGE: string = pkg.peerDependencies['@sluice/core'];
