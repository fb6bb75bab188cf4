import pkg from '../package.json' with { type: 'json' };

export const RUNTIME_VERSION: string = pkg.version;
