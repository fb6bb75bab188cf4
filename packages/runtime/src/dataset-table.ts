import { parse } from 'csv-parse';
import { SluiceError } from '@sluice/core';

/** The type of a tabular dataset's column. */
export type ColumnType = 'string' | 'number' | 'integer' | 'boolean';
/** One cell of a tabular dataset: typed by its column; empty cells are null. */
export type CellValue = string | number | boolean | null;
/** One row of a tabular dataset, keyed by column name. */
export type TabularRecord = Record<string, CellValue>;

export const COLUMN_TYPES: readonly ColumnType[] = ['string', 'number', 'integer', 'boolean'];

/** How delimited files are read (defaults filled in). */
export interface DelimitedParsing {
  separator: string;
  header: boolean;
  inferColumnTypes: boolean;
  setColumnTypes: Record<string, ColumnType>;
  encoding: DatasetEncoding;
}

export type DatasetEncoding = 'utf8' | 'latin1';
export const ENCODINGS: readonly DatasetEncoding[] = ['utf8', 'latin1'];

export type FilterOperator = '==' | '!=' | '>' | '>=' | '<' | '<=' | 'in' | 'contains' | 'startsWith';
export const FILTER_OPERATORS: readonly FilterOperator[] = [
  '==',
  '!=',
  '>',
  '>=',
  '<',
  '<=',
  'in',
  'contains',
  'startsWith',
];
export type FilterScalar = string | number | boolean | null;
export type FilterValue = FilterScalar | readonly FilterScalar[];

/** A lazy step applied to a table when it is read; serialisable, so it enters the dataset's identity. */
export type Transformation =
  | { op: 'take'; n: number }
  | { op: 'skip'; n: number }
  | { op: 'filter'; column: string; operator: FilterOperator; value: FilterValue }
  | { op: 'keepColumns'; columns: string[] }
  | { op: 'dropColumns'; columns: string[] }
  | { op: 'randomSplit'; fraction: number; seed: number; part: 'first' | 'second' };

/** A materialised table: rows are arrays in column order. */
export interface Table {
  columns: string[];
  types: Record<string, ColumnType>;
  rows: CellValue[][];
}

/** One delimited file as read: its header (when the files have one) and raw rows. */
export interface RawFile {
  /** `datastore:path`, used in messages. */
  source: string;
  header: string[] | undefined;
  rows: string[][];
  /** The line each row ends on (for messages). */
  lines: number[];
}

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const BOOLEAN = /^(?:true|false)$/i;
const TRUE_WORDS = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE_WORDS = new Set(['false', 'f', 'no', 'n', '0']);

function invalid(message: string, details: Record<string, unknown> = {}): SluiceError {
  return new SluiceError('DATASET_INVALID', message, { details });
}

/** Parse one delimited file (quoted fields, CRLF or LF, a UTF-8 BOM) from a stream. */
export async function readDelimited(
  stream: NodeJS.ReadableStream,
  source: string,
  parsing: DelimitedParsing,
): Promise<RawFile> {
  const parser = parse({
    delimiter: parsing.separator,
    bom: true,
    encoding: parsing.encoding,
    relax_column_count: true,
    skip_empty_lines: true,
    info: true,
  });
  stream.on('error', (error: Error) => parser.destroy(error));
  stream.pipe(parser);
  const rows: string[][] = [];
  const lines: number[] = [];
  let header: string[] | undefined;
  try {
    for await (const entry of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (parsing.header && header === undefined) {
        header = entry.record;
        continue;
      }
      rows.push(entry.record);
      lines.push(entry.info.lines);
    }
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    throw new SluiceError(
      'DATASET_INVALID',
      `Cannot read ${source} as delimited text (separator ${JSON.stringify(parsing.separator)}): ${(error as Error).message}. Check the file and the dataset's separator/encoding options.`,
      { cause: error, details: { source } },
    );
  }
  return { source, header: parsing.header ? (header ?? []) : undefined, rows, lines };
}

/** Unique, non-empty column names from a header row. */
function columnNames(header: readonly string[]): string[] {
  const names: string[] = [];
  const seen = new Set<string>();
  header.forEach((raw, index) => {
    const base = raw.trim() === '' ? `Column${index + 1}` : raw;
    let name = base;
    for (let k = 1; seen.has(name); k++) name = `${base}_${k}`;
    seen.add(name);
    names.push(name);
  });
  return names;
}

function inferType(values: ReadonlyArray<string | null>): ColumnType {
  let integer = true;
  let number = true;
  let boolean = true;
  let any = false;
  for (const value of values) {
    if (value === null) continue;
    any = true;
    const text = value.trim();
    if (integer && !(INTEGER.test(text) && Number.isSafeInteger(Number(text)))) integer = false;
    if (number && !NUMBER.test(text)) number = false;
    if (boolean && !BOOLEAN.test(text)) boolean = false;
    if (!integer && !number && !boolean) return 'string';
  }
  if (!any) return 'string';
  return integer ? 'integer' : number ? 'number' : boolean ? 'boolean' : 'string';
}

/** Convert a raw cell to its column's type; undefined when it cannot be. */
function convert(value: string, type: ColumnType): CellValue | undefined {
  if (type === 'string') return value;
  const text = value.trim();
  if (type === 'boolean') {
    const lower = text.toLowerCase();
    return TRUE_WORDS.has(lower) ? true : FALSE_WORDS.has(lower) ? false : undefined;
  }
  if (!NUMBER.test(text)) return undefined;
  const number = Number(text);
  if (!Number.isFinite(number)) return undefined;
  if (type === 'integer' && !Number.isInteger(number)) return undefined;
  return number;
}

/** Combine the files into one typed table (columns are the union of the headers, in order of appearance). */
export function buildTable(files: readonly RawFile[], parsing: DelimitedParsing): Table {
  const columns: string[] = [];
  const index = new Map<string, number>();
  const addColumn = (name: string): number => {
    let at = index.get(name);
    if (at === undefined) {
      at = columns.length;
      columns.push(name);
      index.set(name, at);
    }
    return at;
  };
  const fileColumns = files.map((file) => {
    if (file.header !== undefined) return columnNames(file.header).map(addColumn);
    const width = file.rows.reduce((max, row) => Math.max(max, row.length), 0);
    return Array.from({ length: width }, (_, i) => addColumn(`Column${i + 1}`));
  });
  const raw: Array<Array<string | null>> = [];
  const origin: Array<{ source: string; line: number }> = [];
  files.forEach((file, f) => {
    const map = fileColumns[f]!;
    file.rows.forEach((row, r) => {
      if (row.length > map.length) {
        throw invalid(
          `Line ${file.lines[r]} of ${file.source} has ${row.length} fields but the header has ${map.length}; check the separator (${JSON.stringify(parsing.separator)}) and quoting.`,
          { source: file.source, line: file.lines[r] },
        );
      }
      const cells: Array<string | null> = new Array<string | null>(columns.length).fill(null);
      row.forEach((value, c) => {
        cells[map[c]!] = value === '' ? null : value;
      });
      raw.push(cells);
      origin.push({ source: file.source, line: file.lines[r]! });
    });
  });
  for (const name of Object.keys(parsing.setColumnTypes)) {
    if (!index.has(name)) {
      throw invalid(
        `setColumnTypes names column "${name}", which the data does not have; its columns are ${listColumns(columns)}.`,
        { column: name, columns },
      );
    }
  }
  const types: Record<string, ColumnType> = {};
  columns.forEach((name, c) => {
    const forced = parsing.setColumnTypes[name];
    types[name] =
      forced ?? (parsing.inferColumnTypes ? inferType(raw.map((cells) => cells[c] ?? null)) : 'string');
  });
  const rows = raw.map((cells, r) =>
    cells.map((value, c) => {
      if (value === null) return null;
      const name = columns[c]!;
      const converted = convert(value, types[name]!);
      if (converted === undefined) {
        const where = origin[r]!;
        throw invalid(
          `Column "${name}" is set to ${types[name]} but line ${where.line} of ${where.source} has ${JSON.stringify(value)}; fix the data or set the column to another type with setColumnTypes.`,
          { column: name, source: where.source, line: where.line, value },
        );
      }
      return converted;
    }),
  );
  return { columns, types, rows };
}

export function listColumns(columns: readonly string[]): string {
  return columns.length === 0 ? '(none)' : columns.map((name) => `"${name}"`).join(', ');
}

function columnIndex(table: Table, column: string, what: string): number {
  const at = table.columns.indexOf(column);
  if (at < 0) {
    throw invalid(
      `${what} names column "${column}", which the dataset does not have; its columns are ${listColumns(table.columns)}.`,
      { column, columns: table.columns },
    );
  }
  return at;
}

/** A number in [0, 1) from a seed and a row index: the same on every machine and run. */
export function splitHash(seed: number, index: number): number {
  const high = Math.floor(seed / 4294967296) >>> 0;
  let h = (seed >>> 0) ^ Math.imul(high ^ 0x27d4eb2f, 0x165667b1) ^ Math.imul(index >>> 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

function compare(cell: CellValue, value: FilterScalar): number | undefined {
  if (cell === null || value === null) return undefined;
  if (typeof cell === 'number') {
    const other =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && NUMBER.test(value.trim())
          ? Number(value)
          : undefined;
    return other === undefined ? undefined : cell - other;
  }
  if (typeof cell === 'boolean') {
    const other =
      typeof value === 'boolean'
        ? value
        : BOOLEAN.test(String(value))
          ? /^true$/i.test(String(value))
          : undefined;
    return other === undefined ? undefined : Number(cell) - Number(other);
  }
  const other = String(value);
  return cell < other ? -1 : cell > other ? 1 : 0;
}

function equals(cell: CellValue, value: FilterScalar): boolean {
  if (cell === null || value === null) return cell === value;
  return compare(cell, value) === 0;
}

function predicate(operator: FilterOperator, value: FilterValue): (cell: CellValue) => boolean {
  switch (operator) {
    case '==':
      return (cell) => equals(cell, value as FilterScalar);
    case '!=':
      return (cell) => !equals(cell, value as FilterScalar);
    case 'in': {
      const options = value as readonly FilterScalar[];
      return (cell) => options.some((option) => equals(cell, option));
    }
    case 'contains':
      return (cell) => cell !== null && String(cell).includes(String(value));
    case 'startsWith':
      return (cell) => cell !== null && String(cell).startsWith(String(value));
    default: {
      const test =
        operator === '>'
          ? (d: number) => d > 0
          : operator === '>='
            ? (d: number) => d >= 0
            : operator === '<'
              ? (d: number) => d < 0
              : (d: number) => d <= 0;
      return (cell) => {
        const d = compare(cell, value as FilterScalar);
        return d !== undefined && !Number.isNaN(d) && test(d);
      };
    }
  }
}

function project(table: Table, keep: readonly string[]): Table {
  const at = keep.map((name) => table.columns.indexOf(name));
  return {
    columns: [...keep],
    types: Object.fromEntries(keep.map((name) => [name, table.types[name]!])),
    rows: table.rows.map((row) => at.map((c) => row[c] ?? null)),
  };
}

export function applyTransformation(table: Table, step: Transformation): Table {
  switch (step.op) {
    case 'take':
      return { ...table, rows: table.rows.slice(0, step.n) };
    case 'skip':
      return { ...table, rows: table.rows.slice(step.n) };
    case 'filter': {
      const c = columnIndex(table, step.column, 'filter()');
      const test = predicate(step.operator, step.value);
      return { ...table, rows: table.rows.filter((row) => test(row[c] ?? null)) };
    }
    case 'keepColumns':
      for (const name of step.columns) columnIndex(table, name, 'keepColumns()');
      return project(table, step.columns);
    case 'dropColumns': {
      for (const name of step.columns) columnIndex(table, name, 'dropColumns()');
      const drop = new Set(step.columns);
      return project(
        table,
        table.columns.filter((name) => !drop.has(name)),
      );
    }
    case 'randomSplit': {
      const first = step.part === 'first';
      return {
        ...table,
        rows: table.rows.filter((_, r) => splitHash(step.seed, r) < step.fraction === first),
      };
    }
  }
}

/** Per-column statistics of a table. */
export interface ColumnSummary {
  column: string;
  type: ColumnType;
  /** Cells with a value. */
  count: number;
  /** Empty cells. */
  missing: number;
  /** How many different values the column has. */
  distinct: number;
  /** For number and integer columns; null otherwise (or when the column is empty). */
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Sample standard deviation (number and integer columns with two values or more). */
  std: number | null;
  /** For string and boolean columns: the most frequent value (the smallest one on a tie). */
  mostCommon?: { value: string | boolean; count: number };
}

export function summarise(table: Table): ColumnSummary[] {
  return table.columns.map((column, c) => {
    const type = table.types[column]!;
    const values = table.rows.map((row) => row[c] ?? null).filter((value) => value !== null);
    const counts = new Map<string | number | boolean, number>();
    for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
    const summary: ColumnSummary = {
      column,
      type,
      count: values.length,
      missing: table.rows.length - values.length,
      distinct: counts.size,
      min: null,
      max: null,
      mean: null,
      std: null,
    };
    if ((type === 'number' || type === 'integer') && values.length > 0) {
      const numbers = values as number[];
      let min = Infinity;
      let max = -Infinity;
      let sum = 0;
      for (const n of numbers) {
        if (n < min) min = n;
        if (n > max) max = n;
        sum += n;
      }
      const mean = sum / numbers.length;
      summary.min = min;
      summary.max = max;
      summary.mean = mean;
      if (numbers.length > 1) {
        const squares = numbers.reduce((total, n) => total + (n - mean) ** 2, 0);
        summary.std = Math.sqrt(squares / (numbers.length - 1));
      }
    } else if ((type === 'string' || type === 'boolean') && counts.size > 0) {
      let best: { value: string | boolean; count: number } | undefined;
      for (const [value, count] of counts) {
        const v = value as string | boolean;
        if (!best || count > best.count || (count === best.count && String(v) < String(best.value))) {
          best = { value: v, count };
        }
      }
      summary.mostCommon = best!;
    }
    return summary;
  });
}

function csvCell(value: CellValue, separator: string): string {
  if (value === null) return '';
  const text = typeof value === 'string' ? value : String(value);
  if (
    text.includes('"') ||
    text.includes(separator) ||
    text.includes('\n') ||
    text.includes('\r') ||
    text !== text.trim()
  ) {
    return `"${text.replace(/"/g, '""')}"`;
  }
  return text;
}

/** The table as CSV text: a header row, ',' separated, quoted where needed, '\n' line ends. */
export function tableToCsv(table: Table, separator = ','): string {
  const lines = [table.columns.map((name) => csvCell(name, separator)).join(separator)];
  for (const row of table.rows) lines.push(row.map((value) => csvCell(value, separator)).join(separator));
  return `${lines.join('\n')}\n`;
}

export function tableToRecords(table: Table): TabularRecord[] {
  return table.rows.map((row) => {
    const record: TabularRecord = {};
    table.columns.forEach((name, c) => {
      record[name] = row[c] ?? null;
    });
    return record;
  });
}
