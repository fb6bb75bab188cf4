import type { GraphNode } from '@sluice/publish';
import { describe, expect, it } from 'vitest';
import { DATA_SIZE, STEP_SIZE, failedPath, layoutGraph, shapeKey, startViewport } from '../app/lib/graph.js';

const step = (id: string, status: GraphNode['status'] = 'Finished'): GraphNode => ({
  id,
  type: 'step',
  label: id,
  status,
});
const data = (id: string): GraphNode => ({ id: `data:${id}`, type: 'data', label: id });

// prep → data:clean → train → data:model → score ; other → data:extra → score
const graph = {
  nodes: [
    step('prep'),
    data('clean'),
    step('train'),
    data('model'),
    step('score', 'Failed'),
    step('other'),
    data('extra'),
    step('lonely'),
  ],
  edges: [
    { source: 'prep', target: 'data:clean' },
    { source: 'data:clean', target: 'train' },
    { source: 'train', target: 'data:model' },
    { source: 'data:model', target: 'score' },
    { source: 'other', target: 'data:extra' },
    { source: 'data:extra', target: 'score' },
  ],
};

describe('graph layout', () => {
  it('places every node, each edge pointing downwards, without overlaps', () => {
    const positions = layoutGraph(graph);
    expect(Object.keys(positions).sort()).toEqual(graph.nodes.map((node) => node.id).sort());
    for (const edge of graph.edges)
      expect(positions[edge.target]!.y).toBeGreaterThan(positions[edge.source]!.y);
    const boxes = graph.nodes.map((node) => ({
      ...positions[node.id]!,
      ...(node.type === 'data' ? DATA_SIZE : STEP_SIZE),
    }));
    for (const [index, a] of boxes.entries()) {
      for (const b of boxes.slice(index + 1)) {
        const apart =
          a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
        expect(apart).toBe(true);
      }
    }
  });

  it('lays out a 1,000-step chain', () => {
    const nodes = Array.from({ length: 1000 }, (_, index) => step(`s${index}`));
    const edges = nodes.slice(1).map((node, index) => ({ source: `s${index}`, target: node.id }));
    const positions = layoutGraph({ nodes, edges });
    expect(positions.s999!.y).toBeGreaterThan(positions.s0!.y);
  });

  it('keys the shape, not the statuses', () => {
    const running = { ...graph, nodes: graph.nodes.map((node) => ({ ...node, status: 'Running' as const })) };
    expect(shapeKey(running)).toBe(shapeKey(graph));
    expect(shapeKey({ ...graph, edges: graph.edges.slice(1) })).not.toBe(shapeKey(graph));
  });
});

describe('the path to a failed step', () => {
  it('holds the failed step and everything upstream of it, and nothing else', () => {
    const path = failedPath(graph);
    expect([...path.nodes].sort()).toEqual(
      ['score', 'data:model', 'train', 'data:clean', 'prep', 'data:extra', 'other'].sort(),
    );
    expect(path.nodes.has('lonely')).toBe(false);
    expect(path.edges.size).toBe(6);
  });

  it('is empty when nothing failed', () => {
    const fine = { ...graph, nodes: graph.nodes.map((node) => ({ ...node, status: 'Finished' as const })) };
    expect(failedPath(fine).nodes.size).toBe(0);
  });
});

describe('the start of a large graph', () => {
  it('puts the topmost node at the top centre of the view', () => {
    const viewport = startViewport({ a: { x: 1000, y: 50 }, b: { x: 0, y: 200 } }, 1200, 0.5);
    expect(viewport.zoom).toBe(0.5);
    expect(viewport.x + (1000 + STEP_SIZE.width / 2) * 0.5).toBe(600);
    expect(viewport.y + 50 * 0.5).toBe(16);
  });
});
