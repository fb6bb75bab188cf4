import type { UseQueryResult } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { ApiError } from '../lib/api.js';

/** A coded error in words: its code and its message. */
export function ErrorBox({ error }: { error: unknown }) {
  const code = error instanceof ApiError ? error.code : 'ERROR';
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="error" role="alert">
      <code>{code}</code> {message}
    </div>
  );
}

/** A query's data, or its error, or a quiet "Loading…". */
export function Loaded<T>({
  query,
  children,
}: {
  query: UseQueryResult<T>;
  children: (data: T) => ReactNode;
}) {
  if (query.isError) return <ErrorBox error={query.error} />;
  if (query.data === undefined) return <div className="muted">Loading…</div>;
  return <>{children(query.data)}</>;
}

/** A status as a coloured badge. */
export function Status({ status }: { status: string | undefined }) {
  const value = status ?? 'NotStarted';
  return <span className={`status status-${value.toLowerCase()}`}>{value}</span>;
}

/** A button that copies text to the clipboard. */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="small"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => {
          setCopied(true);
          setTimeout(() => setCopied(false), 1500);
        });
      }}
    >
      {copied ? 'Copied' : label}
    </button>
  );
}

/** A key/value table of a record (parameters, options, tags). */
export function KeyValues({ record, empty = 'None' }: { record: Record<string, unknown>; empty?: string }) {
  const entries = Object.entries(record);
  if (entries.length === 0) return <div className="muted">{empty}</div>;
  return (
    <table className="kv">
      <tbody>
        {entries.map(([key, value]) => (
          <tr key={key}>
            <th>{key}</th>
            <td>{typeof value === 'string' ? value : JSON.stringify(value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Section({
  title,
  children,
  actions,
}: {
  title: string;
  children: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <section className="panel">
      <header className="panel-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

/** A column of a `Table`: its title and what a row shows in it. */
export interface Column<T> {
  title: ReactNode;
  cell: (row: T) => ReactNode;
}

/** A plain table of rows, one column definition each. */
export function Table<T>({
  rows,
  columns,
  rowKey,
  testId,
  empty = 'None.',
}: {
  rows: readonly T[];
  columns: ReadonlyArray<Column<T>>;
  rowKey: (row: T) => string;
  testId?: string;
  empty?: string;
}) {
  if (rows.length === 0) return <div className="muted">{empty}</div>;
  return (
    <table className="grid-table" data-testid={testId}>
      <thead>
        <tr>
          {columns.map((column, index) => (
            <th key={index}>{column.title}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={rowKey(row)}>
            {columns.map((column, index) => (
              <td key={index}>{column.cell(row)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
