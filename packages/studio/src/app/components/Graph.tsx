import type { GraphNode, RunDetail } from '@sluice/publish';
import {
  Background,
  Controls,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  type Edge,
  type Node,
  type NodeProps,
  type ReactFlowInstance,
} from '@xyflow/react';
import { memo, useEffect, useMemo, useRef } from 'react';
import { LARGE_GRAPH, edgeId, failedPath, sizeOf, startViewport, type Positions } from '../lib/graph.js';
import { href } from '../lib/route.js';
import { useLayout } from '../lib/use-layout.js';
import { navigate } from '../lib/use-route.js';

type StepData = { node: GraphNode; selected: boolean; onPath: boolean };
type DataData = { node: GraphNode; onPath: boolean };

const StepNode = memo(function StepNode({ data }: NodeProps<Node<StepData>>) {
  const { node } = data;
  const status = node.status ?? 'NotStarted';
  return (
    <div
      className={`gnode step status-bg-${status.toLowerCase()}${data.selected ? ' selected' : ''}${data.onPath ? ' on-path' : ''}`}
      data-testid={`node-${node.id}`}
      data-status={status}
      title={`${node.label} (${node.kind ?? 'step'}): ${status}${node.error ? ` — ${node.error}` : ''}`}
      style={sizeOf('step')}
    >
      <Handle type="target" position={Position.Top} isConnectable={false} />
      <div className="gnode-label">{node.label}</div>
      <div className="gnode-sub">
        {status}
        {node.reusedFrom && (
          <a
            className="reused-link"
            href={href(['runs', node.reusedFrom.runId])}
            onClick={(event) => event.stopPropagation()}
            title={`reused from run ${node.reusedFrom.runId}`}
          >
            ↺ …{node.reusedFrom.runId.slice(-6)}
          </a>
        )}
      </div>
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </div>
  );
});

const DataNode = memo(function DataNode({ data }: NodeProps<Node<DataData>>) {
  return (
    <div
      className={`gnode data${data.onPath ? ' on-path' : ''}`}
      title={data.node.location ?? data.node.label}
      style={sizeOf('data')}
    >
      <Handle type="target" position={Position.Top} isConnectable={false} />
      <span className="gnode-label">{data.node.label}</span>
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </div>
  );
});

const nodeTypes = { step: StepNode, data: DataNode };

const sameMembers = (a: ReadonlySet<string>, b: ReadonlySet<string>) =>
  a.size === b.size && [...a].every((member) => b.has(member));

/** The run's DAG: laid out once, coloured by status as events arrive. */
export function RunGraph({ run, selected }: { run: RunDetail; selected?: string | undefined }) {
  const graph = run.graph;
  const positions = useLayout(graph);
  // the failed path changes only when a step fails: keep the same sets otherwise, so the edges stay as drawn
  const lastPath = useRef<ReturnType<typeof failedPath> | null>(null);
  const path = useMemo(() => {
    const next = failedPath(graph);
    const last = lastPath.current;
    if (last && sameMembers(last.nodes, next.nodes) && sameMembers(last.edges, next.edges)) return last;
    lastPath.current = next;
    return next;
  }, [graph]);
  // a node object is kept while its step, selection and path mark stay: a status event redraws one node
  const made = useRef(
    new Map<string, { from: GraphNode; at: Positions; selected: boolean; onPath: boolean; node: Node }>(),
  );
  const nodes = useMemo<Node[]>(() => {
    if (!positions) return [];
    const cache = made.current;
    return graph.nodes.map((node) => {
      const isSelected = node.id === selected;
      const onPath = path.nodes.has(node.id);
      const kept = cache.get(node.id);
      if (
        kept &&
        kept.from === node &&
        kept.at === positions &&
        kept.selected === isSelected &&
        kept.onPath === onPath
      ) {
        return kept.node;
      }
      const next: Node = {
        id: node.id,
        type: node.type,
        position: positions[node.id] ?? { x: 0, y: 0 },
        data: node.type === 'step' ? { node, selected: isSelected, onPath } : { node, onPath },
        ...sizeOf(node.type),
        draggable: false,
        connectable: false,
        selectable: false,
      };
      cache.set(node.id, { from: node, at: positions, selected: isSelected, onPath, node: next });
      return next;
    });
  }, [graph.nodes, positions, path, selected]);
  const edges = useMemo<Edge[]>(
    () =>
      graph.edges.map((edge) => {
        const onPath = path.edges.has(edgeId(edge));
        return {
          id: edgeId(edge),
          source: edge.source,
          target: edge.target,
          className: onPath ? 'on-path' : '',
          markerEnd: { type: MarkerType.ArrowClosed, width: 12, height: 12 },
          selectable: false,
        };
      }),
    [graph.edges, path],
  );
  const marked = useRef(false);
  useEffect(() => {
    if (marked.current || nodes.length === 0) return;
    marked.current = true;
    requestAnimationFrame(() => performance.mark('sluice:graph-rendered'));
  }, [nodes]);
  const box = useRef<HTMLDivElement>(null);
  // a small graph fits the view; a large one starts at its first node, readable
  const large = graph.nodes.length > LARGE_GRAPH / 4;
  // a small graph fits the view again when the view changes size (the step panel opens or closes)
  const flow = useRef<ReactFlowInstance | null>(null);
  useEffect(() => {
    const element = box.current;
    if (!element || large) return;
    const observer = new ResizeObserver(() => void flow.current?.fitView({ maxZoom: 1 }));
    observer.observe(element);
    return () => observer.disconnect();
  }, [large]);
  const viewport = useMemo(
    () => (positions ? startViewport(positions, box.current?.clientWidth ?? 1200, 0.8) : undefined),
    [positions],
  );
  return (
    <div
      ref={box}
      className="graph"
      data-testid="graph"
      data-nodes={graph.nodes.length}
      data-ready={positions ? 'true' : 'false'}
    >
      {!positions && <div className="muted graph-wait">Laying out {graph.nodes.length} nodes…</div>}
      {positions && (
        <ReactFlow
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          onlyRenderVisibleElements
          onInit={(instance) => {
            flow.current = instance;
          }}
          nodesDraggable={false}
          nodesConnectable={false}
          elementsSelectable={false}
          fitView={!large}
          fitViewOptions={{ maxZoom: 1 }}
          {...(large && viewport ? { defaultViewport: viewport } : {})}
          minZoom={0.05}
          proOptions={{ hideAttribution: true }}
          onNodeClick={(_, node) => {
            if (node.type === 'step') navigate(href(['runs', run.id, 'steps', node.id]));
          }}
        >
          <Background gap={16} size={1} />
          <Controls showInteractive={false} />
        </ReactFlow>
      )}
    </div>
  );
}
