export { createProgram, main } from './cli.js';
export type { CliIO } from './cli.js';
export { loadPipeline } from './load-pipeline.js';
export type { LoadedPipeline } from './load-pipeline.js';
export { drawGraph, timeline } from './format.js';
