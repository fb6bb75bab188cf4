import type { GraphNode } from '@sluice/publish';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useMemo, useRef } from 'react';
import { formatDuration } from '../lib/format.js';
import { ganttScale } from '../lib/gantt.js';
import { href } from '../lib/route.js';

const ROW = 22;

/** A Gantt chart of the steps that started: a bar each from its start to its end. */
export function Timeline({ nodes, now, runId }: { nodes: GraphNode[]; now: number; runId: string }) {
  const steps = useMemo(() => nodes.filter((node) => node.type === 'step'), [nodes]);
  const scale = useMemo(() => ganttScale(steps, now), [steps, now]);
  const byId = useMemo(() => new Map(steps.map((node) => [node.id, node])), [steps]);
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: scale.bars.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW,
    overscan: 10,
  });
  const span = Math.max(1, scale.end - scale.start);
  if (scale.bars.length === 0) {
    return (
      <div className="timeline muted" data-testid="timeline">
        No step has started yet.
      </div>
    );
  }
  return (
    <div className="timeline" data-testid="timeline">
      <div className="timeline-axis">
        <span className="timeline-label" />
        <div className="timeline-track">
          {scale.ticks.map((tick) => (
            <span key={tick} className="tick" style={{ left: `${(tick / span) * 100}%` }}>
              {formatDuration(tick)}
            </span>
          ))}
        </div>
      </div>
      <div className="timeline-rows" ref={scroller}>
        <div style={{ height: virtual.getTotalSize(), position: 'relative' }}>
          {virtual.getVirtualItems().map((item) => {
            const bar = scale.bars[item.index]!;
            const node = byId.get(bar.id);
            const status = (node?.status ?? 'NotStarted').toLowerCase();
            return (
              <a
                key={bar.id}
                className="timeline-row"
                href={href(['runs', runId, 'steps', bar.id])}
                style={{ transform: `translateY(${item.start}px)`, height: ROW }}
              >
                <span className="timeline-label ellipsis" title={node?.label}>
                  {node?.label ?? bar.id}
                </span>
                <span className="timeline-track">
                  <span
                    className={`bar status-bg-${status}${bar.running ? ' running' : ''}`}
                    style={{ left: `${bar.left * 100}%`, width: `${bar.width * 100}%` }}
                    title={`${node?.label ?? bar.id}: ${formatDuration(bar.duration)}`}
                  />
                </span>
              </a>
            );
          })}
        </div>
      </div>
    </div>
  );
}
