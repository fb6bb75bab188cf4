import { useEffect, useRef } from 'react';
import uPlot from 'uplot';

export interface Series {
  label: string;
  values: Array<number | null>;
}

/** A line chart (uPlot) of series over shared x values. */
export function Chart({
  x,
  series,
  xLabel,
  time = false,
  height = 220,
}: {
  x: number[];
  series: Series[];
  xLabel: string;
  time?: boolean;
  height?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const colours = ['#2563eb', '#d97706', '#059669', '#dc2626', '#7c3aed', '#0891b2'];
    const plot = new uPlot(
      {
        width: Math.max(240, element.clientWidth),
        height,
        scales: { x: { time } },
        axes: [{ label: xLabel }, {}],
        series: [
          { label: xLabel },
          ...series.map((entry, index) => ({
            label: entry.label,
            stroke: colours[index % colours.length],
            width: 2,
            points: { show: x.length < 60 },
          })),
        ],
      },
      [x, ...series.map((entry) => entry.values)] as uPlot.AlignedData,
      element,
    );
    const resize = new ResizeObserver(() =>
      plot.setSize({ width: Math.max(240, element.clientWidth), height }),
    );
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [x, series, xLabel, time, height]);
  return <div className="chart" data-testid="metric-chart" ref={box} />;
}
