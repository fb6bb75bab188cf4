import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    figuresFile: string;
  }
}

/**
 * Vitest global set-up: the suites append their figures (one JSON object per line) to one file, and the
 * figures are printed together once every suite has run, so a reader of the CI log sees them in one place.
 */
export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-fault-figures-'));
  const file = join(dir, 'figures.jsonl');
  project.provide('figuresFile', file);
  return () => {
    const lines = readFileSync(file, { encoding: 'utf8', flag: 'a+' }).split('\n').filter(Boolean);
    rmSync(dir, { recursive: true, force: true });
    if (lines.length === 0) return;
    const load = loadavg()
      .map((value) => value.toFixed(2))
      .join(' ');
    const out = [`\nFault suite figures (load average ${load})`];
    for (const line of lines) {
      const { suite, ...figures } = JSON.parse(line) as { suite: string } & Record<string, unknown>;
      out.push(`  ${suite}`);
      for (const [name, value] of Object.entries(figures)) {
        out.push(`    ${name.padEnd(34)} ${typeof value === 'string' ? value : JSON.stringify(value)}`);
      }
    }
    process.stdout.write(`${out.join('\n')}\n\n`);
  };
}
