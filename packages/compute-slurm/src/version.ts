import pkg from '../package.json' with { type: 'json' };

export const COMPUTE_SLURM_VERSION: string = pkg.version;
export const PACKAGE_NAME: string = pkg.name;
/** The `@sluice/core` versions this package's plugins support: its peer dependency range. */
export const CORE_RANGE: string = pkg.peerDependencies['@sluice/core'];
