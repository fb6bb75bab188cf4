import { useEffect, useMemo, useState } from 'react';
import { layoutGraph, shapeKey, type LayoutInput, type Positions } from './graph.js';

/**
 * The positions of a graph's nodes, laid out once per shape in a worker (in a task of its own where workers
 * cannot run); status changes keep the layout.
 */
export function useLayout(graph: LayoutInput): Positions | null {
  const key = useMemo(() => shapeKey(graph), [graph]);
  const [layout, setLayout] = useState<{ key: string; positions: Positions } | null>(null);
  useEffect(() => {
    if (layout?.key === key) return;
    const input: LayoutInput = {
      nodes: graph.nodes.map((node) => ({ id: node.id, type: node.type })),
      edges: graph.edges.map((edge) => ({ source: edge.source, target: edge.target })),
    };
    let worker: Worker | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    try {
      worker = new Worker(new URL('./layout.worker.ts', import.meta.url), { type: 'module' });
      worker.onmessage = (event: MessageEvent<{ key: string; positions: Positions }>) =>
        setLayout(event.data);
      worker.onerror = () => {
        timer = setTimeout(() => setLayout({ key, positions: layoutGraph(input) }));
      };
      worker.postMessage({ key, graph: input });
    } catch {
      timer = setTimeout(() => setLayout({ key, positions: layoutGraph(input) }));
    }
    return () => {
      worker?.terminate();
      if (timer) clearTimeout(timer);
    };
    // the graph's shape is its key: a new object of the same shape needs no layout
  }, [key]);
  return layout?.key === key ? layout.positions : null;
}
