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
} from '@xyflow/react';
import { memo, useEffect, useMemo, useRef } from 'react';
import { edgeId, extent, failedPath, sizeOf } from '../lib/graph.js';
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
            ↺ {node.reusedFrom.runId.slice(0, 8)}
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

/** The run's DAG: laid out once, coloured by status as events arrive. */
export function RunGraph({ run, selected }: { run: RunDetail; selected?: string | undefined }) {
  const graph = run.graph;
  const positions = useLayout(graph);
  const path = useMemo(() => failedPath(graph), [graph]);
  const nodes = useMemo<Node[]>(() => {
    if (!positions) return [];
    return graph.nodes.map((node) =>
      node.type === 'step'
        ? {
            id: node.id,
            type: 'step',
            position: positions[node.id] ?? { x: 0, y: 0 },
            data: { node, selected: node.id === selected, onPath: path.nodes.has(node.id) },
            ...sizeOf('step'),
            draggable: false,
            connectable: false,
          }
        : {
            id: node.id,
            type: 'data',
            position: positions[node.id] ?? { x: 0, y: 0 },
            data: { node, onPath: path.nodes.has(node.id) },
            ...sizeOf('data'),
            draggable: false,
            connectable: false,
            selectable: false,
          },
    );
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
  const size = positions ? extent(graph, positions) : { width: 0, height: 0 };
  const big = graph.nodes.length > 60;
  return (
    <div
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
          nodesDraggable={false}
          nodesConnectable={false}
          elementsSelectable={false}
          fitView={!big}
          defaultViewport={{ x: Math.max(8, 600 - size.width / 2), y: 8, zoom: 1 }}
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
