import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const example = fileURLToPath(new URL('../../', import.meta.url));
const page = readFileSync(`${root}docs/porting-from-azure-ml-v1.md`, 'utf8');

/** The blocks the page says are files: `<!-- file: path -->` right before a fenced block. */
function includedFiles(): Map<string, string> {
  const blocks = new Map<string, string>();
  const pattern = /<!-- file: (\S+) -->\n\n```\w*\n([\s\S]*?)```\n/g;
  for (const match of page.matchAll(pattern)) blocks.set(match[1]!, match[2]!);
  return blocks;
}

describe('docs/porting-from-azure-ml-v1.md', () => {
  it('includes every snippet of examples/porting/src verbatim', () => {
    const blocks = includedFiles();
    const snippets = readdirSync(`${example}src`).filter((name) => name.endsWith('.ts'));
    expect(snippets.length).toBeGreaterThan(10);
    for (const name of snippets) {
      const path = `examples/porting/src/${name}`;
      expect(blocks.has(path), `${path} is not on the page`).toBe(true);
    }
    for (const [path, block] of blocks) {
      expect(block, `the page's copy of ${path} differs from the file`).toBe(
        readFileSync(`${root}${path}`, 'utf8'),
      );
    }
  });

  it('is linked from the root README', () => {
    expect(readFileSync(`${root}README.md`, 'utf8')).toContain('docs/porting-from-azure-ml-v1.md');
  });
});
