import pkg from '../package.json' with { type: 'json' };

/** The version of this `@sluice/core`, checked against each plugin's `coreRange`. */
export const CORE_VERSION: string = pkg.version;
