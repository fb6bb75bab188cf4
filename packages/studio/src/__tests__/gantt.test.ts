import { describe, expect, it } from 'vitest';
import { ganttScale, tickStep } from '../app/lib/gantt.js';

const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds)).toISOString();
const now = Date.UTC(2026, 0, 1, 0, 0, 100);

describe('the timeline scale', () => {
  it('spans from the first start to the last end, bars as fractions, ordered by start', () => {
    const scale = ganttScale(
      [
        { id: 'b', startedAt: at(10), endedAt: at(20) },
        { id: 'a', startedAt: at(0), endedAt: at(10) },
        { id: 'never', startedAt: null, endedAt: null },
      ],
      now,
    );
    expect(scale.bars.map((bar) => bar.id)).toEqual(['a', 'b']);
    expect(scale.bars[0]).toMatchObject({ left: 0, width: 0.5, duration: 10_000, running: false });
    expect(scale.bars[1]).toMatchObject({ left: 0.5, width: 0.5 });
    expect(scale.ticks[0]).toBe(0);
    expect(scale.ticks.every((tick) => tick <= 20_000)).toBe(true);
  });

  it('runs a running step until now', () => {
    const scale = ganttScale(
      [
        { id: 'a', startedAt: at(0), endedAt: at(50) },
        { id: 'b', startedAt: at(50) },
      ],
      now,
    );
    expect(scale.end).toBe(now);
    expect(scale.bars[1]).toMatchObject({ left: 0.5, width: 0.5, running: true });
  });

  it('keeps an instant step visible and is empty when nothing started', () => {
    expect(ganttScale([{ id: 'a', startedAt: at(0), endedAt: at(0) }], now).bars[0]!.width).toBeGreaterThan(
      0,
    );
    expect(ganttScale([{ id: 'a' }], now).bars).toEqual([]);
  });

  it('picks round tick steps', () => {
    expect(tickStep(10_000)).toBe(2000);
    expect(tickStep(3_600_000)).toBe(600_000);
  });
});
