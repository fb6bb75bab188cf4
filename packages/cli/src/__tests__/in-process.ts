import { stripVTControlCharacters } from 'node:util';
import { main } from '../index.js';

/** Run the CLI in this process on the workspace in `workspace`; its exit code and what it printed. */
export async function runInProcess(
  workspace: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: { write: (text: string) => ((stdout += text), true) } as unknown as NodeJS.WritableStream,
    stderr: { write: (text: string) => ((stderr += text), true) } as unknown as NodeJS.WritableStream,
  };
  const code = await main(['node', 'sluice', ...args, '--workspace', workspace], io);
  return { code, stdout: stripVTControlCharacters(stdout), stderr: stripVTControlCharacters(stderr) };
}
