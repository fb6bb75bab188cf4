/** The live progress table: what a frame holds, and that drawing it costs the same for 200 or 2,000 steps. */
import { Writable } from 'node:stream';
import type { PipelineRun, RunEvent, StepStatus } from '@sluice/runtime';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProgressTable, showProgress } from '../progress.js';

const names = (count: number): string[] =>
  Array.from({ length: count }, (_, i) => `step_${String(i).padStart(4, '0')}`);

/** A terminal of `rows` rows that counts what is written to it. */
function terminal(rows: number): NodeJS.WriteStream & { bytes: number; writes: number } {
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      stream.bytes += Buffer.byteLength(chunk);
      stream.writes += 1;
      done();
    },
  }) as Writable & { bytes: number; writes: number; isTTY: boolean; rows: number; columns: number };
  Object.assign(stream, { bytes: 0, writes: 0, isTTY: true, rows, columns: 120 });
  return stream as unknown as NodeJS.WriteStream & { bytes: number; writes: number };
}

/** A run of `count` steps that only emits the events a test sends. */
function fakeRun(count: number): { run: PipelineRun; emit: (event: RunEvent) => void } {
  const listeners = new Set<(event: RunEvent) => void>();
  const steps = names(count);
  const run = {
    id: 'run_1',
    getSteps: () => steps.map((name) => ({ name, status: 'NotStarted' as StepStatus })),
    getGraph: () => ({ nodes: steps.map((name) => ({ name, displayName: name })) }),
    on: (listener: (event: RunEvent) => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  } as unknown as PipelineRun;
  return { run, emit: (event) => listeners.forEach((listener) => listener(event)) };
}

const status = (step: string, value: StepStatus): RunEvent =>
  ({ type: 'step-status', step, status: value }) as RunEvent;

afterEach(() => {
  vi.useRealTimers();
});

describe('ProgressTable', () => {
  it('draws every step when they fit, and a summary within the rows when they do not', () => {
    const few = new ProgressTable(
      names(5).map((name) => [name, 'NotStarted'] as [string, StepStatus]),
      (name) => name,
    );
    few.update('step_0001', 'Running', 0);
    const small = few.render({ runId: 'r', elapsedMs: 0, frame: 0, rows: 24, now: 10 }).split('\n');
    expect(small).toHaveLength(6);

    const many = new ProgressTable(
      names(1000).map((name) => [name, 'NotStarted'] as [string, StepStatus]),
      (name) => name,
    );
    for (const name of names(600)) {
      many.update(name, 'Running', 0);
      many.update(name, name === 'step_0042' ? 'Failed' : 'Finished', 1);
    }
    many.update('step_0700', 'Running', 2);
    many.update('step_0701', 'Running', 2);
    const frame = many.render({ runId: 'r', elapsedMs: 0, frame: 0, rows: 12, now: 10 });
    const lines = frame.split('\n');
    expect(lines.length).toBeLessThanOrEqual(12);
    expect(lines[0]).toContain('600/1000 steps');
    expect(lines[1]).toContain('398 not started, 2 running, 599 finished, 1 failed');
    // the failed step first, then the running ones, then the last that ended
    expect(lines[2]).toContain('step_0042');
    expect(frame).toContain('step_0700');
    expect(frame).toContain('step_0701');
    expect(frame).toContain('step_0599');
  });
});

describe('showProgress on a terminal', () => {
  /** Bytes written per step event for a run of `count` steps, each going Running then Finished. */
  function bytesPerEvent(count: number): { perEvent: number; frames: number; events: number } {
    vi.useFakeTimers();
    const { run, emit } = fakeRun(count);
    const stream = terminal(30);
    const stop = showProgress(run, { stream, interactive: true });
    let events = 0;
    for (const name of names(count)) {
      emit(status(name, 'Running'));
      emit(status(name, 'Finished'));
      events += 2;
      // a step every 5 ms: twenty events between two frames
      vi.advanceTimersByTime(5);
    }
    stop();
    return { perEvent: stream.bytes / events, frames: stream.writes, events };
  }

  it('costs the same per event for 2,000 steps as for 200, and draws on a clock, not per event', () => {
    const small = bytesPerEvent(200);
    const large = bytesPerEvent(2000);
    // the old table redrew every step on every event: ten times the steps, ten times the bytes per event
    expect(large.perEvent).toBeLessThan(small.perEvent * 1.5);
    expect(large.frames).toBeLessThan(large.events / 5);
  });
});
