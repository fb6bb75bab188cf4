/**
 * A run's graph for drawing: dagre lays it out top to bottom once per shape (step and data nodes and edges);
 * statuses come and go without a new layout. Pure, so it runs in a worker and in tests.
 */
import dagre from '@dagrejs/dagre';
import type { GraphEdge, GraphNode } from '@sluice/publish';

export const STEP_SIZE = { width: 180, height: 44 };
export const DATA_SIZE = { width: 120, height: 22 };

export interface LayoutInput {
  nodes: Array<Pick<GraphNode, 'id' | 'type'>>;
  edges: GraphEdge[];
}

/** The top-left corner of each node, by id. */
export type Positions = Record<string, { x: number; y: number }>;

export const sizeOf = (type: GraphNode['type']) => (type === 'data' ? DATA_SIZE : STEP_SIZE);

/** A key that changes only when the graph's shape does (its nodes and edges, not their statuses). */
export function shapeKey(graph: LayoutInput): string {
  const nodes = graph.nodes.map((node) => `${node.type}:${node.id}`).join('|');
  const edges = graph.edges.map((edge) => `${edge.source}>${edge.target}`).join('|');
  return `${graph.nodes.length}/${graph.edges.length}/${nodes}/${edges}`;
}

/** Above this many nodes the layout trades some crossings for speed (a 1,000-step graph in about a second). */
export const LARGE_GRAPH = 400;

/** Lay the graph out top to bottom with dagre. */
export function layoutGraph(graph: LayoutInput): Positions {
  const large = graph.nodes.length > LARGE_GRAPH;
  const layout = new dagre.graphlib.Graph();
  layout.setGraph({
    rankdir: 'TB',
    nodesep: 24,
    ranksep: 40,
    marginx: 8,
    marginy: 8,
    ranker: large ? 'longest-path' : 'network-simplex',
  });
  layout.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) layout.setNode(node.id, { ...sizeOf(node.type) });
  for (const edge of graph.edges) {
    if (layout.hasNode(edge.source) && layout.hasNode(edge.target)) layout.setEdge(edge.source, edge.target);
  }
  dagre.layout(layout, { disableOptimalOrderHeuristic: large });
  const positions: Positions = {};
  for (const node of graph.nodes) {
    const placed = layout.node(node.id);
    const size = sizeOf(node.type);
    positions[node.id] = { x: placed.x - size.width / 2, y: placed.y - size.height / 2 };
  }
  return positions;
}

/** `source>target`, the id of an edge. */
export const edgeId = (edge: GraphEdge) => `${edge.source}>${edge.target}`;

/**
 * What led to the failed steps: each failed step and every node and edge upstream of it (its inputs, the steps
 * that made them, and so on), to highlight where to look.
 */
export function failedPath(graph: { nodes: GraphNode[]; edges: GraphEdge[] }): {
  nodes: Set<string>;
  edges: Set<string>;
} {
  const incoming = new Map<string, GraphEdge[]>();
  for (const edge of graph.edges) {
    const list = incoming.get(edge.target) ?? [];
    list.push(edge);
    incoming.set(edge.target, list);
  }
  const nodes = new Set<string>();
  const edges = new Set<string>();
  const pending = graph.nodes.filter((node) => node.status === 'Failed').map((node) => node.id);
  while (pending.length > 0) {
    const id = pending.pop()!;
    if (nodes.has(id)) continue;
    nodes.add(id);
    for (const edge of incoming.get(id) ?? []) {
      edges.add(edgeId(edge));
      pending.push(edge.source);
    }
  }
  return { nodes, edges };
}

/**
 * Where a large graph's view starts: its first node (the topmost, then leftmost) at the top centre of a view
 * `width` wide, at `zoom`.
 */
export function startViewport(
  positions: Positions,
  width: number,
  zoom: number,
): { x: number; y: number; zoom: number } {
  let first: { x: number; y: number } | undefined;
  for (const at of Object.values(positions)) {
    if (!first || at.y < first.y || (at.y === first.y && at.x < first.x)) first = at;
  }
  if (!first) return { x: 0, y: 0, zoom };
  return { x: width / 2 - (first.x + STEP_SIZE.width / 2) * zoom, y: 16 - first.y * zoom, zoom };
}
