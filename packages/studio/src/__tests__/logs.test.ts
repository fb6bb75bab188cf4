import { describe, expect, it } from 'vitest';
import {
  addRange,
  earlierRange,
  emptySpan,
  newerRange,
  searchLines,
  spanEnd,
  spanLines,
  splitByMatches,
  tailRange,
} from '../app/lib/logs.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const file = bytes('first line\nsecond line é\nthird line\nfourth ✓ line\n');

/** Read the file as the log view does: the tail, then earlier ranges of `chunk` bytes. */
function readBackwards(chunk: number) {
  const tail = tailRange(file.length, chunk);
  let span = addRange(
    emptySpan(file.length),
    tail.offset,
    file.subarray(tail.offset, tail.offset + tail.length),
  );
  const seen = [spanLines(span).lines];
  for (let range = earlierRange(span, chunk); range; range = earlierRange(span, chunk)) {
    span = addRange(span, range.offset, file.subarray(range.offset, range.offset + range.length));
    seen.push(spanLines(span).lines);
  }
  return { span, seen };
}

describe('log ranges', () => {
  it('stitch back into the whole text whatever the chunk size, multi-byte characters included', () => {
    for (const chunk of [1, 2, 3, 5, 7, 13, 64]) {
      const { span, seen } = readBackwards(chunk);
      expect(span.start).toBe(0);
      expect(spanLines(span)).toEqual({
        lines: ['first line', 'second line é', 'third line', 'fourth ✓ line'],
        firstPartial: false,
      });
      // a character cut by a range boundary is never shown as a replacement character
      for (const lines of seen) expect(lines.join('\n')).not.toContain('\uFFFD');
    }
  });

  it('mark the first line as partial while earlier bytes are not loaded', () => {
    const span = addRange(emptySpan(file.length), 5, file.subarray(5));
    expect(spanLines(span).firstPartial).toBe(true);
    expect(spanLines(span).lines[0]).toBe(' line');
  });

  it('follow a growing log by reading only the new bytes', () => {
    let span = addRange(emptySpan(), 0, bytes('a\nb'));
    expect(newerRange(span, 3)).toBeNull();
    expect(newerRange(span, 6)).toEqual({ offset: 3, length: 3 });
    span = addRange(span, 3, bytes('c\nd'), 6);
    expect(spanLines(span).lines).toEqual(['a', 'bc', 'd']);
    expect(spanEnd(span)).toBe(6);
  });

  it('take overlapping bytes once, and start over when a range leaves a gap', () => {
    const whole = bytes('0123456789');
    let span = addRange(emptySpan(), 4, whole.subarray(4, 8));
    span = addRange(span, 2, whole.subarray(2, 6));
    span = addRange(span, 6, whole.subarray(6, 10));
    expect(new TextDecoder().decode(span.bytes)).toBe('23456789');
    expect(span.start).toBe(2);
    const gap = addRange(span, 0, whole.subarray(0, 1));
    expect(gap.start).toBe(0);
    expect(new TextDecoder().decode(gap.bytes)).toBe('0');
  });

  it('have no earlier range at the start of the file and a tail no larger than the file', () => {
    expect(earlierRange(addRange(emptySpan(), 0, bytes('x')), 10)).toBeNull();
    expect(tailRange(5, 100)).toEqual({ offset: 0, length: 5 });
    expect(tailRange(500, 100)).toEqual({ offset: 400, length: 100 });
  });
});

describe('log search', () => {
  const lines = ['Epoch 1 loss 0.5', 'epoch 2 LOSS 0.4', 'done'];

  it('finds every case-insensitive match with its line and columns', () => {
    expect(searchLines(lines, 'loss')).toEqual([
      { line: 0, from: 8, to: 12 },
      { line: 1, from: 8, to: 12 },
    ]);
    expect(searchLines(lines, 'o').length).toBe(5);
    expect(searchLines(lines, '')).toEqual([]);
  });

  it('cuts a line into plain and highlighted parts', () => {
    const matches = searchLines(['aXbXc'], 'x');
    expect(splitByMatches('aXbXc', matches).map((part) => [part.text, part.match !== null])).toEqual([
      ['a', false],
      ['X', true],
      ['b', false],
      ['X', true],
      ['c', false],
    ]);
    expect(splitByMatches('plain', [])).toEqual([{ text: 'plain', match: null }]);
  });
});
