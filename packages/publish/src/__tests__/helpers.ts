import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { DataReference, Pipeline, PipelineData, PipelineParameter } from '@sluice/core';
import { Workspace, type PipelineRun } from '@sluice/runtime';
import { PythonScriptStep } from '@sluice/step-python';
import { createToken } from '../index.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Run after the test (last registered, first run). */
export function onCleanup(cleanup: () => unknown): void {
  cleanups.push(cleanup);
}

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-publish-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Strip the common indentation of an inline script. */
export function dedent(code: string): string {
  const lines = code.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((line) => line.trim()).map((line) => line.match(/^ */)![0].length));
  return lines.map((line) => line.slice(indent)).join('\n');
}

export function writeScripts(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, code] of Object.entries(files)) writeFileSync(join(dir, name), dedent(code));
  return dir;
}

/** The seed's data preparation: upper-cases its input into `out_data`. */
export const PREPARE = `
  import argparse, os
  parser = argparse.ArgumentParser()
  parser.add_argument("--input")
  parser.add_argument("--output")
  args = parser.parse_args()
  with open(args.input) as source:
      text = source.read()
  with open(os.path.join(args.output, "data.txt"), "w") as target:
      target.write(text.upper())
  print("prepared {} bytes".format(len(text)))
`;

/**
 * The seed's compare step: `--param1` is the pipeline parameter. With SLUICE_TEST_HOLD set it writes its
 * pid there and waits for a `release` file (so a test can stop a server mid-run).
 */
export const compareScript = (label: string): string =>
  dedent(`
  import argparse, os, time
  parser = argparse.ArgumentParser()
  parser.add_argument("--comp_data1")
  parser.add_argument("--output_data")
  parser.add_argument("--param1")
  args = parser.parse_args()
  hold = os.environ.get("SLUICE_TEST_HOLD")
  if hold:
      with open(os.path.join(hold, "pid-{}".format(os.getpid())), "w") as marker:
          marker.write(str(os.getpid()))
      for _ in range(600):
          if os.path.exists(os.path.join(hold, "release")):
              break
          time.sleep(0.05)
  with open(os.path.join(args.comp_data1, "data.txt")) as source:
      data = source.read()
  with open(os.path.join(args.output_data, "result.txt"), "w") as target:
      target.write("${label} {} {}".format(args.param1, data))
  print("compare ${label} param1={}".format(args.param1))
`);

export interface Fixture {
  dir: string;
  ws: Workspace;
  /** The folder the seed's scripts live in (prepare.py, compare.py). */
  projectFolder: string;
  pipelineParam: PipelineParameter<number>;
  /** The seed's two-step pipeline: prepare (reads a DataReference) → compare (takes pipeline_arg). */
  pipeline(): Pipeline;
  /** A token string of a scope. */
  token(scope?: 'read' | 'submit'): string;
}

/** A workspace with `data/input.txt` on the default datastore and the seed's scripts. */
export async function fixture(): Promise<Fixture> {
  const dir = tempDir();
  const ws = Workspace.create(join(dir, 'workspace'));
  onCleanup(() => ws.close());
  const local = join(dir, 'input.txt');
  writeFileSync(local, 'hello sluice\n');
  const ds = ws.getDefaultDatastore();
  await ds.uploadFiles([local], { targetPath: 'data' });
  const projectFolder = writeScripts(join(dir, 'project'), {
    'prepare.py': PREPARE,
    'compare.py': compareScript('v1'),
  });
  const pipelineParam = new PipelineParameter({ name: 'pipeline_arg', defaultValue: 10 });
  return {
    dir,
    ws,
    projectFolder,
    pipelineParam,
    pipeline: () => seedPipeline(projectFolder, pipelineParam),
    token: (scope = 'submit') => createToken(ws, { scope }).token,
  };
}

export function seedPipeline(projectFolder: string, pipelineParam: PipelineParameter): Pipeline {
  const input = new DataReference({
    datastore: 'workspaceblobstore',
    pathOnDatastore: 'data/input.txt',
    name: 'input_data',
  });
  const outData = new PipelineData('out_data');
  const outData3 = new PipelineData('out_data3');
  const prepare = new PythonScriptStep({
    name: 'prepare',
    scriptName: 'prepare.py',
    arguments: ['--input', input, '--output', outData],
    inputs: [input],
    outputs: [outData],
    sourceDirectory: projectFolder,
  });
  const compare = new PythonScriptStep({
    name: 'compare',
    scriptName: 'compare.py',
    arguments: ['--comp_data1', outData, '--output_data', outData3, '--param1', pipelineParam],
    inputs: [outData],
    outputs: [outData3],
    sourceDirectory: projectFolder,
  });
  return new Pipeline({ name: 'seed', description: 'The seed pipeline', steps: [prepare, compare] });
}

/** Step name → status. */
export function statuses(run: PipelineRun): Record<string, string> {
  return Object.fromEntries(run.getSteps().map((step) => [step.name, step.status]));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Wait until `check` is true (polling), failing after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(25);
  }
}
