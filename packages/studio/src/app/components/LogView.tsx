import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { api, type LogStream } from '../lib/api.js';
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
  type LogMatch,
  type LogSpan,
} from '../lib/logs.js';
import { formatBytes } from '../lib/format.js';
import { ErrorBox } from './common.js';

const CHUNK = 256 * 1024;
const LINE = 18;

/**
 * One log of a step, read in ranges: its tail first, older ranges on demand, and (following a running step)
 * only the bytes written since, when the server says the log grew.
 */
export function LogView({
  runId,
  step,
  stream,
  size,
  running,
}: {
  runId: string;
  step: string;
  stream: LogStream;
  size: number;
  running: boolean;
}) {
  const [span, setSpan] = useState<LogSpan>(() => emptySpan(0));
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const [follow, setFollow] = useState(true);
  // only a running step's log grows: a finished one is read once, and "Load earlier" keeps its place
  const following = running && follow;
  const [query, setQuery] = useState('');
  const [current, setCurrent] = useState(0);
  const busy = useRef(false);
  const spanRef = useRef(span);
  spanRef.current = span;

  const read = useCallback(
    async (range: { offset: number; length: number } | null) => {
      if (!range || range.length <= 0 || busy.current) return;
      busy.current = true;
      setLoading(true);
      try {
        const answer = await api.logRange(runId, step, stream, range);
        setSpan((before) => addRange(before, range.offset, answer.bytes, answer.size));
        setError(null);
      } catch (failure) {
        setError(failure);
      } finally {
        busy.current = false;
        setLoading(false);
      }
    },
    [runId, step, stream],
  );

  // a new log starts over
  const loaded = useRef(false);
  useEffect(() => {
    loaded.current = false;
    busy.current = false;
    spanRef.current = emptySpan(0);
    setSpan(spanRef.current);
    setError(null);
  }, [read]);

  // its tail first; then, following a running step, only the bytes written since the last read
  useEffect(() => {
    if (busy.current || error !== null) return;
    if (!loaded.current) {
      if (size <= 0) return;
      loaded.current = true;
      void read(tailRange(size, CHUNK));
    } else if (follow) {
      // (a finished log's size stays put: nothing newer to read, unless its last bytes came with the end)
      void read(newerRange(spanRef.current, size));
    }
  }, [size, follow, read, loading, error]);

  const { lines, firstPartial } = useMemo(() => spanLines(span), [span]);
  const matches = useMemo(() => searchLines(lines, query), [lines, query]);
  const byLine = useMemo(() => {
    const map = new Map<number, LogMatch[]>();
    for (const match of matches) {
      const list = map.get(match.line) ?? [];
      list.push(match);
      map.set(match.line, list);
    }
    return map;
  }, [matches]);

  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: lines.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => LINE,
    overscan: 20,
  });
  // older text loaded above keeps the lines in view where they were
  const shown = useRef({ start: span.start, count: lines.length });
  useLayoutEffect(() => {
    const before = shown.current;
    shown.current = { start: span.start, count: lines.length };
    if (span.start < before.start && before.count > 0 && scroller.current) {
      scroller.current.scrollTop += (lines.length - before.count) * LINE;
    }
  }, [span.start, lines.length]);
  // the newest line in view when the tail arrives, and while following
  const atEnd = useRef(false);
  useEffect(() => {
    if (lines.length === 0) {
      atEnd.current = false;
      return;
    }
    if ((following || !atEnd.current) && !query) virtual.scrollToIndex(lines.length - 1, { align: 'end' });
    atEnd.current = true;
  }, [lines.length, following, query, virtual]);

  const goTo = (index: number) => {
    if (matches.length === 0) return;
    const next = (index + matches.length) % matches.length;
    setCurrent(next);
    setFollow(false);
    virtual.scrollToIndex(matches[next]!.line, { align: 'center' });
  };
  const earlier = earlierRange(span, CHUNK);
  const active = matches[current];

  return (
    <div className="log" data-testid="log-view" data-stream={stream}>
      <div className="log-bar">
        <input
          data-testid="log-search"
          type="search"
          placeholder="Search loaded text"
          value={query}
          onChange={(event) => {
            setQuery(event.target.value);
            setCurrent(0);
          }}
          onKeyDown={(event) => {
            if (event.key === 'Enter') goTo(current + (event.shiftKey ? -1 : 1));
          }}
        />
        {query && (
          <span className="muted" data-testid="log-matches">
            {matches.length === 0
              ? 'no match'
              : `${Math.min(current + 1, matches.length)} of ${matches.length}`}
          </span>
        )}
        <button type="button" className="small" onClick={() => goTo(current - 1)} disabled={!matches.length}>
          ↑
        </button>
        <button type="button" className="small" onClick={() => goTo(current + 1)} disabled={!matches.length}>
          ↓
        </button>
        {running && (
          <label className="check">
            <input type="checkbox" checked={follow} onChange={(event) => setFollow(event.target.checked)} />{' '}
            Follow
          </label>
        )}
        <span className="spacer" />
        <span className="muted">
          {formatBytes(span.bytes.length)} of {formatBytes(Math.max(size, spanEnd(span)))} loaded
        </span>
        <a className="button small" href={`${api.logUrl(runId, step, stream)}?download=1`} download>
          Download
        </a>
      </div>
      {error !== null && <ErrorBox error={error} />}
      {earlier && (
        <button
          type="button"
          className="small load-earlier"
          onClick={() => void read(earlier)}
          disabled={loading}
        >
          Load earlier ({formatBytes(earlier.length)} of {formatBytes(span.start)} not loaded)
        </button>
      )}
      <div className="log-lines" ref={scroller}>
        {lines.length === 0 && <div className="muted empty">{loading ? 'Loading…' : 'Empty.'}</div>}
        <div style={{ height: virtual.getTotalSize(), position: 'relative' }}>
          {virtual.getVirtualItems().map((item) => {
            const text = lines[item.index]!;
            const lineMatches = byLine.get(item.index);
            return (
              <div
                key={item.index}
                className="log-line"
                style={{ transform: `translateY(${item.start}px)`, height: LINE }}
              >
                {item.index === 0 && firstPartial && <span className="muted">…</span>}
                {lineMatches
                  ? splitByMatches(text, lineMatches).map((part, index) =>
                      part.match ? (
                        <mark key={index} className={part.match === active ? 'current' : ''}>
                          {part.text}
                        </mark>
                      ) : (
                        <span key={index}>{part.text}</span>
                      ),
                    )
                  : text}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
