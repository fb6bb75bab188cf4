/**
 * A log read in byte ranges: the loaded bytes are one contiguous span `[start, end)` of the file, grown at the
 * front ("load earlier") and at the back (follow mode). The text is decoded from the whole span, so a UTF-8
 * character or a line cut by a range boundary is whole again once its other part arrives.
 */

/** The bytes of a log read so far. Immutable: every change gives a new span. */
export interface LogSpan {
  start: number;
  bytes: Uint8Array;
  /** The size of the whole file when last heard of. */
  size: number;
}

export const emptySpan = (size = 0): LogSpan => ({ start: size, bytes: new Uint8Array(0), size });

export const spanEnd = (span: LogSpan): number => span.start + span.bytes.length;

/**
 * Add the bytes of a range read at `offset` to a span. The range must touch or overlap the span (else the span
 * is replaced: a gap would show text that is not in the file); overlapping bytes are taken once.
 */
export function addRange(span: LogSpan, offset: number, bytes: Uint8Array, size = span.size): LogSpan {
  const end = spanEnd(span);
  const rangeEnd = offset + bytes.length;
  if (span.bytes.length === 0 || rangeEnd < span.start || offset > end) {
    return { start: offset, bytes, size: Math.max(size, rangeEnd) };
  }
  const start = Math.min(offset, span.start);
  const last = Math.max(end, rangeEnd);
  const merged = new Uint8Array(last - start);
  merged.set(bytes, offset - start);
  merged.set(span.bytes, span.start - start);
  if (rangeEnd > end) merged.set(bytes.subarray(end - offset), end - start);
  return { start, bytes: merged, size: Math.max(size, last) };
}

/** The range to read before the span ("load earlier"), at most `chunk` bytes; null at the file's start. */
export function earlierRange(span: LogSpan, chunk: number): { offset: number; length: number } | null {
  if (span.start <= 0) return null;
  const offset = Math.max(0, span.start - chunk);
  return { offset, length: span.start - offset };
}

/** The range of bytes written after the span (follow mode); null when there are none. */
export function newerRange(span: LogSpan, size: number): { offset: number; length: number } | null {
  const end = spanEnd(span);
  return size > end ? { offset: end, length: size - end } : null;
}

/** The range of a log's tail: its last `chunk` bytes. */
export function tailRange(size: number, chunk: number): { offset: number; length: number } {
  const offset = Math.max(0, size - chunk);
  return { offset, length: size - offset };
}

const isContinuation = (byte: number) => (byte & 0xc0) === 0x80;

/** How many bytes at the end of `bytes` begin a UTF-8 character that is not complete yet. */
function incompleteTail(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back += 1) {
    const byte = bytes[bytes.length - back]!;
    if (isContinuation(byte)) continue;
    const needs = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needs > back ? back : 0;
  }
  return 0;
}

export interface LogLines {
  lines: string[];
  /** The first line starts before the loaded bytes (only part of it is shown). */
  firstPartial: boolean;
}

/** The span's text as lines; a cut character at either end is left out until its other bytes are loaded. */
export function spanLines(span: LogSpan): LogLines {
  let from = 0;
  if (span.start > 0) while (from < span.bytes.length && isContinuation(span.bytes[from]!)) from += 1;
  const to = span.bytes.length - incompleteTail(span.bytes);
  const text = new TextDecoder().decode(span.bytes.subarray(from, Math.max(from, to)));
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 1 && lines[0] === '') lines.pop();
  return { lines, firstPartial: span.start > 0 };
}

/** A match of a search: the line and the character range within it. */
export interface LogMatch {
  line: number;
  from: number;
  to: number;
}

/** Every case-insensitive occurrence of `query` in the lines, in order. */
export function searchLines(lines: readonly string[], query: string, limit = 10_000): LogMatch[] {
  const needle = query.toLowerCase();
  if (!needle) return [];
  const matches: LogMatch[] = [];
  for (let line = 0; line < lines.length && matches.length < limit; line += 1) {
    const haystack = lines[line]!.toLowerCase();
    let at = haystack.indexOf(needle);
    while (at >= 0 && matches.length < limit) {
      matches.push({ line, from: at, to: at + needle.length });
      at = haystack.indexOf(needle, at + needle.length);
    }
  }
  return matches;
}

/** A line cut into plain parts and matched parts (each with its match), for highlighting. */
export function splitByMatches(
  text: string,
  matches: readonly LogMatch[],
): Array<{ text: string; match: LogMatch | null }> {
  const parts: Array<{ text: string; match: LogMatch | null }> = [];
  let at = 0;
  for (const match of matches) {
    if (match.from > at) parts.push({ text: text.slice(at, match.from), match: null });
    parts.push({ text: text.slice(match.from, match.to), match });
    at = match.to;
  }
  if (at < text.length || parts.length === 0) parts.push({ text: text.slice(at), match: null });
  return parts;
}
