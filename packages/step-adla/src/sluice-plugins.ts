import type { AnyPlugin } from '@sluice/core';
import { adlaComputeProvider } from './compute.js';
import { adlaStep } from './plugin.js';

/** The plugins of this package, for `ws.ready()` (which loads packages named in the workspace config). */
export const sluicePlugins = (): AnyPlugin[] => [adlaStep(), adlaComputeProvider()];
