import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect } from 'vitest';
import { isSluiceError, type SluiceErrorCode } from '@sluice/core';

const made: string[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh temporary folder, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sluice-step-adla-'));
  made.push(dir);
  return dir;
}

/** Expect `action` to throw (or reject with) a SluiceError of `code`; returns it. */
export async function expectCode(
  action: () => unknown,
  code: SluiceErrorCode,
): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  try {
    await action();
  } catch (error) {
    if (!isSluiceError(error)) throw error;
    expect(error.code, error.message).toBe(code);
    return error;
  }
  throw new Error(`expected a SluiceError ${code}, but nothing was thrown`);
}

/** Strip the common indentation of a script written inline. */
export function dedent(code: string): string {
  const lines = code.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((line) => line.trim()).map((line) => line.match(/^ */)![0].length));
  return lines.map((line) => line.slice(indent)).join('\n');
}
