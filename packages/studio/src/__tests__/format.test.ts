import { describe, expect, it } from 'vitest';
import {
  durationBetween,
  formatBytes,
  formatDuration,
  formatRelative,
  formatValue,
} from '../app/lib/format.js';

describe('formatters', () => {
  it('format sizes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(300 * 1024 * 1024)).toBe('300 MiB');
    expect(formatBytes(-1)).toBe('—');
  });

  it('format durations', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(1234)).toBe('1.2 s');
    expect(formatDuration(245_000)).toBe('4 m 05 s');
    expect(formatDuration(7_380_000)).toBe('2 h 03 m');
    expect(formatDuration(Number.NaN)).toBe('—');
  });

  it('measure a duration, until now while it runs', () => {
    expect(durationBetween('2026-01-01T00:00:00Z', '2026-01-01T00:00:02Z')).toBe(2000);
    expect(durationBetween('2026-01-01T00:00:00Z', null, Date.parse('2026-01-01T00:01:00Z'))).toBe(60_000);
    expect(durationBetween(null, null)).toBeNull();
  });

  it('say relative times and values in words', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(formatRelative('2026-01-01T12:05:00Z', now)).toBe('in 5 min');
    expect(formatRelative('2026-01-01T10:00:00Z', now)).toBe('2 h ago');
    expect(formatValue(0.123456789)).toBe('0.123457');
    expect(formatValue('text')).toBe('text');
    expect(formatValue({ a: 1 })).toBe('{"a":1}');
  });
});
