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

/** Above this many nodes the layout is the simple layered one below: linear time, a few more crossings. */
export const LARGE_GRAPH = 400;

const NODE_SEP = 24;
const RANK_SEP = 40;
const MARGIN = 8;

/** Lay the graph out top to bottom: dagre for ordinary graphs, `layeredLayout` for large ones. */
export function layoutGraph(graph: LayoutInput): Positions {
  if (graph.nodes.length > LARGE_GRAPH) return layeredLayout(graph);
  const layout = new dagre.graphlib.Graph();
  layout.setGraph({ rankdir: 'TB', nodesep: NODE_SEP, ranksep: RANK_SEP, marginx: MARGIN, marginy: MARGIN });
  layout.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) layout.setNode(node.id, { ...sizeOf(node.type) });
  for (const edge of graph.edges) {
    if (layout.hasNode(edge.source) && layout.hasNode(edge.target)) layout.setEdge(edge.source, edge.target);
  }
  dagre.layout(layout);
  const positions: Positions = {};
  for (const node of graph.nodes) {
    const placed = layout.node(node.id);
    const size = sizeOf(node.type);
    positions[node.id] = { x: placed.x - size.width / 2, y: placed.y - size.height / 2 };
  }
  return positions;
}

/**
 * A layered layout in time linear in the graph (plus a sort per layer), for graphs too large for dagre to lay
 * out while a person waits: each node sits one layer below its deepest parent (longest path from the
 * sources), each layer is ordered by the mean position of the nodes' parents in the layer above (one
 * barycentre sweep), and each layer is centred. Edges of a cycle, which a run's graph never has, are ignored.
 */
export function layeredLayout(graph: LayoutInput): Positions {
  const ids = new Set(graph.nodes.map((node) => node.id));
  const parents = new Map<string, string[]>();
  const children = new Map<string, string[]>();
  const pending = new Map<string, number>();
  for (const node of graph.nodes) {
    parents.set(node.id, []);
    children.set(node.id, []);
    pending.set(node.id, 0);
  }
  for (const edge of graph.edges) {
    if (!ids.has(edge.source) || !ids.has(edge.target) || edge.source === edge.target) continue;
    parents.get(edge.target)!.push(edge.source);
    children.get(edge.source)!.push(edge.target);
    pending.set(edge.target, pending.get(edge.target)! + 1);
  }
  // layers by longest path, in topological order (Kahn); nodes left on a cycle go below everything
  const layerOf = new Map<string, number>();
  const queue = graph.nodes.filter((node) => pending.get(node.id) === 0).map((node) => node.id);
  for (let head = 0; head < queue.length; head++) {
    const id = queue[head]!;
    const layer = layerOf.get(id) ?? 0;
    layerOf.set(id, layer);
    for (const child of children.get(id)!) {
      layerOf.set(child, Math.max(layerOf.get(child) ?? 0, layer + 1));
      const left = pending.get(child)! - 1;
      pending.set(child, left);
      if (left === 0) queue.push(child);
    }
  }
  const deepest = Math.max(0, ...layerOf.values());
  const layers: string[][] = [];
  for (const node of graph.nodes) {
    const layer = layerOf.get(node.id) ?? deepest + 1;
    (layers[layer] ??= []).push(node.id);
  }
  const typeOf = new Map(graph.nodes.map((node) => [node.id, node.type]));
  const positions: Positions = {};
  const centre = new Map<string, number>();
  const rows = layers.filter((layer) => layer !== undefined);
  const widthOf = (layer: string[]) =>
    layer.reduce((sum, id) => sum + sizeOf(typeOf.get(id)!).width, 0) + NODE_SEP * (layer.length - 1);
  const widest = Math.max(...rows.map(widthOf));
  let y = MARGIN;
  for (const layer of rows) {
    // order by the parents' mean centre (stable: ties keep the graph's order)
    const order = layer.map((id, index) => {
      const above = parents.get(id)!.filter((parent) => centre.has(parent));
      const mean = above.length
        ? above.reduce((sum, parent) => sum + centre.get(parent)!, 0) / above.length
        : Number.POSITIVE_INFINITY;
      return { id, index, mean };
    });
    order.sort((a, b) => a.mean - b.mean || a.index - b.index);
    let x = MARGIN + (widest - widthOf(layer)) / 2;
    let height = 0;
    for (const { id } of order) {
      const size = sizeOf(typeOf.get(id)!);
      positions[id] = { x, y };
      centre.set(id, x + size.width / 2);
      x += size.width + NODE_SEP;
      height = Math.max(height, size.height);
    }
    y += height + RANK_SEP;
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
