import type { GraphNode } from '@sluice/publish';
import { describe, expect, it } from 'vitest';
import {
  DATA_SIZE,
  STEP_SIZE,
  failedPath,
  layeredLayout,
  layoutGraph,
  shapeKey,
  startViewport,
  type LayoutInput,
  type Positions,
} from '../app/lib/graph.js';

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

/** Every node placed, each edge pointing downwards, no two boxes overlapping. */
function expectSound(input: LayoutInput, positions: Positions): void {
  expect(Object.keys(positions).sort()).toEqual(input.nodes.map((node) => node.id).sort());
  for (const edge of input.edges)
    expect(positions[edge.target]!.y).toBeGreaterThan(positions[edge.source]!.y);
  const boxes = input.nodes
    .map((node) => ({ ...positions[node.id]!, ...(node.type === 'data' ? DATA_SIZE : STEP_SIZE) }))
    .sort((a, b) => a.y - b.y || a.x - b.x);
  // boxes of a row share a y: check neighbours in each row, and rows against each other by their extent
  for (const [index, a] of boxes.entries()) {
    for (const b of boxes.slice(index + 1)) {
      if (b.y >= a.y + a.height) break;
      const apart =
        a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
      expect(apart).toBe(true);
    }
  }
}

/** A root, then `chains` chains of steps hanging from it, each step's output a data node: `steps` steps. */
function fan(steps: number, chains: number): LayoutInput {
  const nodes: LayoutInput['nodes'] = [];
  const edges: LayoutInput['edges'] = [];
  for (let i = 0; i < steps; i++) {
    nodes.push({ id: `s${i}`, type: 'step' }, { id: `data:d${i}`, type: 'data' });
    edges.push({ source: `s${i}`, target: `data:d${i}` });
    if (i > 0) edges.push({ source: `data:d${i <= chains ? 0 : i - chains}`, target: `s${i}` });
  }
  return { nodes, edges };
}

describe('graph layout', () => {
  it('places every node, each edge pointing downwards, without overlaps', () => {
    expectSound(graph, layoutGraph(graph));
  });

  it('lays out large graphs in layers, as soundly', () => {
    expectSound(graph, layeredLayout(graph));
    const large = fan(1000, 4);
    const positions = layoutGraph(large);
    expectSound(large, positions);
    // longest-path layers: the root on top, a chain's steps one below the other, the four chains side by side
    expect(positions.s0!.y).toBeLessThan(positions.s1!.y);
    expect(positions.s5!.y).toBeGreaterThan(positions.s1!.y);
    expect(new Set([1, 2, 3, 4].map((i) => positions[`s${i}`]!.y)).size).toBe(1);
  });

  it('puts a child under its parents', () => {
    // two independent chains: each child stays in its parent's column, the chains never cross
    const chains = fan(401, 2);
    const positions = layeredLayout(chains);
    const column = (i: number) => Math.sign(positions[`s${i}`]!.x - positions.s0!.x);
    for (let i = 3; i < 401; i++) expect(column(i)).toBe(column(i - 2));
    expect(column(1)).not.toBe(column(2));
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
