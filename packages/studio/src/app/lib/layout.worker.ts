/// <reference lib="webworker" />
// Lays a run's graph out away from the page's thread: a 1,000-step graph takes a moment.
import { layoutGraph, type LayoutInput } from './graph.js';

const scope = self as unknown as DedicatedWorkerGlobalScope;
scope.onmessage = (event: MessageEvent<{ key: string; graph: LayoutInput }>) => {
  scope.postMessage({ key: event.data.key, positions: layoutGraph(event.data.graph) });
};
