import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach } from 'vitest';
import { SluiceError, defineStep, type InputLike, type OutputLike, type StepArgument } from '../index.js';
import type { StepDefinition } from '../step.js';

/** Run `fn`, which must throw a SluiceError; return it (any other outcome fails the test). */
export function sluiceErrorOf(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (error) {
    if (error instanceof SluiceError) return error;
    throw new Error(`expected a SluiceError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a SluiceError, but nothing was thrown');
}

/** The async form of sluiceErrorOf. */
export async function sluiceErrorOfAsync(fn: () => Promise<unknown>): Promise<SluiceError> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof SluiceError) return error;
    throw new Error(`expected a SluiceError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a SluiceError, but nothing was thrown');
}

export interface TestStepOptions {
  inputs?: InputLike[];
  outputs?: OutputLike[];
  arguments?: StepArgument[];
  runAfter?: StepDefinition[];
  parameterValues?: unknown[];
  computeTarget?: string;
}

/** A step of the plugin-less 'test' kind. */
export function step(name: string, options: TestStepOptions = {}): StepDefinition<Record<string, never>> {
  return defineStep({ kind: 'test', name, config: {}, ...options });
}

const made: string[] = [];
afterEach(() => {
  while (made.length) rmSync(made.pop()!, { recursive: true, force: true });
});

/** A fresh temporary folder, removed after the test. */
export function tempDir(prefix = 'sluice-core-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Write `files` (relative path → content) under `root`; returns root. */
export function writeTree(root: string, files: Record<string, string | Uint8Array>): string {
  for (const [path, content] of Object.entries(files)) {
    const absolute = join(root, path);
    mkdirSync(dirname(absolute), { recursive: true });
    writeFileSync(absolute, content);
  }
  return root;
}
