import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  Pipeline,
  PipelineData,
  PluginRegistry,
  canonicalJson,
  type StepDefinition,
  type StepKindPlugin,
} from '@sluice/core';
import { Experiment, Workspace, type PipelineRun, type StepRun } from '@sluice/runtime';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

/** What a step built by the fixture must do when it runs. */
export type StepBehaviour = 'succeed' | 'fail' | 'sleep';

/** What the suite asks the fixture to build. */
export interface MakeStepOptions {
  /** The step's name (valid for `defineStep`). */
  name: string;
  /**
   * - `succeed`: write `text` to the file `result.txt` in the output, then finish.
   * - `fail`: fail (a non-zero exit, or the kind's equivalent); it may write into the output first.
   * - `sleep`: keep running for at least a minute; the suite cancels it.
   */
  behaviour: StepBehaviour;
  /** A folder holding the fixture's `sourceFiles`, for kinds that run code from a source directory. */
  sourceDirectory: string;
  /** The output the step must declare (and, for `succeed`, write `result.txt` into). */
  output: PipelineData;
  /**
   * A text that must be part of the step's definition (an argument, a setting): the same text builds
   * the same step, another text a different one.
   */
  text: string;
  allowReuse: boolean;
  /** The workspace the step will run in (to upload data the step reads, say). */
  workspace: Workspace;
}

/** What a conformance setup hands the suite. */
export interface StepKindFixture<Config = unknown> {
  /** The step kind under test; it is registered in every workspace the suite creates. */
  plugin: StepKindPlugin<Config>;
  /** Build a step of this kind that behaves as asked. */
  makeStep(options: MakeStepOptions): StepDefinition<Config> | Promise<StepDefinition<Config>>;
  /**
   * Behaviours steps of this kind cannot be made to show (a copy between datastores cannot be made to run
   * for a minute): their tests are skipped. Default: none.
   */
  unsupported?: ReadonlyArray<'fail' | 'sleep'>;
  /** Files (relative '/'-separated path → content) written into the source directory steps get. */
  sourceFiles?: Record<string, string>;
  /** Prepare each new workspace before anything runs (compute targets, datastores, secrets). */
  prepareWorkspace?(workspace: Workspace): void | Promise<void>;
  /** The succeeding step also prints `text` to its standard output; checked in the step's logs. */
  printsText?: boolean;
  /** Runs once after the suite. */
  cleanup?(): Promise<void>;
}

export interface TestStepKindOptions {
  /** Per-test timeout in milliseconds (default 60 s). */
  timeout?: number;
}

/** Fingerprint part names the runtime adds itself; a step kind's own parts must not use them. */
export const RUNTIME_FINGERPRINT_PARTS = ['kind', 'environment', 'source', 'outputs'] as const;
const RUNTIME_PART_PREFIXES = ['parameter:', 'input:'] as const;

const OUTPUT_NAME = 'result';
const RESULT_FILE = 'result.txt';

/**
 * Register a vitest `describe` block that holds a step kind to the contract of `@sluice/core`, running its
 * steps for real in a new workspace per test (`Workspace.create` + `Experiment.submit`): the plugin's
 * shape, deterministic JSON fingerprint parts, a successful run that commits its output, reuse on the
 * next submit, a re-run when the definition changes or `allowReuse` is false, a failed run that keeps no
 * output and is never reused, and cancellation of a running step.
 *
 * `setup` runs once before the tests; `cleanup` once after them.
 */
export function testStepKind<Config>(
  label: string,
  setup: () => StepKindFixture<Config> | Promise<StepKindFixture<Config>>,
  options: TestStepKindOptions = {},
): void {
  describe(`Step kind conformance: ${label}`, { timeout: options.timeout ?? 60_000 }, () => {
    let fixture: StepKindFixture<Config> | undefined;
    let root: string | undefined;
    let ws: Workspace | undefined;
    let sourceDirectory: string;
    let counter = 0;

    beforeAll(async () => {
      fixture = await setup();
    });
    afterAll(async () => {
      await fixture?.cleanup?.();
    });
    beforeEach(async () => {
      root = await mkdtemp(join(tmpdir(), 'sluice-step-conformance-'));
      sourceDirectory = join(root, 'src');
      await mkdir(sourceDirectory, { recursive: true });
      for (const [rel, content] of Object.entries(current().sourceFiles ?? {})) {
        const path = join(sourceDirectory, ...rel.split('/'));
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, content);
      }
      ws = Workspace.create(join(root, 'ws'), { name: 'conformance' });
      ws.registry.use(current().plugin);
      await current().prepareWorkspace?.(ws);
    });
    afterEach(async () => {
      try {
        await ws?.close();
      } finally {
        ws = undefined;
        if (root) await rm(root, { recursive: true, force: true });
      }
    });

    const current = (): StepKindFixture<Config> => {
      if (!fixture) throw new Error('the step kind setup did not complete');
      return fixture;
    };
    const workspace = (): Workspace => {
      if (!ws) throw new Error('no workspace: the test setup did not complete');
      return ws;
    };
    /** A text no other test uses, so that no test can reuse another's results by accident. */
    const uniqueText = (): string => `conformance text ${++counter} (${process.pid})`;
    const build = async (
      behaviour: StepBehaviour,
      text: string,
      allowReuse = true,
    ): Promise<StepDefinition<Config>> =>
      current().makeStep({
        name: behaviour,
        behaviour,
        sourceDirectory,
        output: new PipelineData(OUTPUT_NAME),
        text,
        allowReuse,
        workspace: workspace(),
      });
    const behaviours = (): StepBehaviour[] =>
      (['succeed', 'fail', 'sleep'] as const).filter(
        (behaviour) => behaviour === 'succeed' || !current().unsupported?.includes(behaviour),
      );
    const skipUnless = (behaviour: 'fail' | 'sleep', skip: () => void): void => {
      if (current().unsupported?.includes(behaviour)) skip();
    };
    const submit = (step: StepDefinition<Config>): Promise<PipelineRun> =>
      new Experiment(workspace(), 'conformance').submit(new Pipeline({ name: 'conformance', steps: [step] }));
    const runToEnd = async (
      step: StepDefinition<Config>,
    ): Promise<{ run: PipelineRun; stepRun: StepRun }> => {
      const run = await submit(step);
      await run.waitForCompletion({ raiseOnError: false });
      return { run, stepRun: run.findStepRun(step.name) };
    };
    const expectStatus = async (stepRun: StepRun, status: string): Promise<void> => {
      if (stepRun.status !== status) expect.fail(await diagnose(stepRun, status));
    };
    const resultText = async (stepRun: StepRun): Promise<string> => {
      const folder = await stepRun.getOutputData(OUTPUT_NAME).download(join(root!, `download-${++counter}`));
      return readFile(join(folder, RESULT_FILE), 'utf8').catch((error: NodeJS.ErrnoException) =>
        expect.fail(
          `step "${stepRun.name}" finished, but its output "${OUTPUT_NAME}" has no ${RESULT_FILE} (${error.code}); a succeeding step must write the text it was given to ${RESULT_FILE} in its output folder.`,
        ),
      );
    };

    it('is a step kind plugin the registry accepts, and builds steps of its kind', async () => {
      const { plugin } = current();
      const registry = new PluginRegistry();
      // use() checks the shape, the semver version and that coreRange includes the installed core
      registry.use(plugin);
      expect(registry.step(plugin.kind)).toBe(plugin);
      expect(plugin.type).toBe('step');
      expect(typeof plugin.reuseVersion, 'reuseVersion').toBe('string');
      expect(plugin.reuseVersion.length, 'reuseVersion must not be empty').toBeGreaterThan(0);
      if (plugin.remoteData !== undefined) expect(typeof plugin.remoteData).toBe('boolean');
      if (plugin.pythonEnvironment !== undefined) expect(typeof plugin.pythonEnvironment).toBe('boolean');
      for (const behaviour of behaviours()) {
        const step = await build(behaviour, uniqueText());
        expect(step.name).toBe(behaviour);
        expect(step.kind, 'a step built by the fixture has the plugin kind').toBe(plugin.kind);
        if (step.plugin) {
          expect(step.plugin.type).toBe('step');
          expect(step.plugin.kind).toBe(plugin.kind);
        }
        expect(
          step.outputs.map((output) => output.outputName),
          `the ${behaviour} step declares its output`,
        ).toContain(OUTPUT_NAME);
      }
    });

    it('gives fingerprint parts that are plain JSON, named once each, and the same for the same definition', async () => {
      const { plugin } = current();
      const text = uniqueText();
      for (const behaviour of behaviours()) {
        const parts = plugin.fingerprint(await build(behaviour, text));
        expect(Array.isArray(parts), 'fingerprint() returns an array').toBe(true);
        const names = new Set<string>();
        for (const part of parts) {
          expect(typeof part.name, 'a part has a name').toBe('string');
          expect(part.name.length, 'a part name is not empty').toBeGreaterThan(0);
          expect(names.has(part.name), `the part name "${part.name}" is used once`).toBe(false);
          names.add(part.name);
          const reserved =
            (RUNTIME_FINGERPRINT_PARTS as readonly string[]).includes(part.name) ||
            RUNTIME_PART_PREFIXES.some((prefix) => part.name.startsWith(prefix));
          expect(reserved, `the part name "${part.name}" is one the runtime adds itself`).toBe(false);
          const problem = notPlainJson(part.value, `part "${part.name}"`);
          if (problem) expect.fail(problem);
          expect(JSON.parse(JSON.stringify(part.value))).toEqual(part.value);
        }
        // built again from scratch (as another process would): the same parts, in canonical form too
        const again = plugin.fingerprint(await build(behaviour, text));
        expect(again).toEqual(parts);
        expect(canonicalJson(again)).toBe(canonicalJson(parts));
      }
    });

    it('runs a step that succeeds: Finished, with its output committed', async () => {
      const text = uniqueText();
      const { run, stepRun } = await runToEnd(await build('succeed', text));
      await expectStatus(stepRun, 'Finished');
      expect(run.status).toBe('Finished');
      expect(stepRun.fingerprint).toMatch(/^[0-9a-f]{64}$/);
      expect(stepRun.getOutputs().map((output) => output.name)).toEqual([OUTPUT_NAME]);
      expect(await resultText(stepRun)).toBe(text);
      if (current().printsText) expect(await stepRun.getStdout()).toContain(text);
    });

    it('is reused on the next submit, and runs again when its definition changes', async () => {
      const text = uniqueText();
      const first = (await runToEnd(await build('succeed', text))).stepRun;
      await expectStatus(first, 'Finished');

      const second = (await runToEnd(await build('succeed', text))).stepRun;
      await expectStatus(second, 'Reused');
      expect(second.reusedFrom).toBe(first.id);
      expect(second.fingerprint).toBe(first.fingerprint);
      expect(await resultText(second)).toBe(text);
      expect(second.explain().decision).toBe('REUSED');

      const changedText = uniqueText();
      const third = (await runToEnd(await build('succeed', changedText))).stepRun;
      await expectStatus(third, 'Finished');
      expect(third.reusedFrom).toBeNull();
      expect(third.fingerprint).not.toBe(first.fingerprint);
      expect(await resultText(third)).toBe(changedText);
      const explanation = third.explain();
      expect(explanation.decision).toBe('RAN');
      expect(explanation.reasons.length, 'explain() says what changed').toBeGreaterThan(0);
    });

    it('runs again when allowReuse is false, with the same fingerprint', async () => {
      const text = uniqueText();
      const first = (await runToEnd(await build('succeed', text))).stepRun;
      await expectStatus(first, 'Finished');

      const again = (await runToEnd(await build('succeed', text, false))).stepRun;
      await expectStatus(again, 'Finished');
      expect(again.reusedFrom).toBeNull();
      expect(again.record.ranReason).toBe('allow-reuse-false');
      expect(again.fingerprint, 'allowReuse is not part of the fingerprint').toBe(first.fingerprint);
      expect(await resultText(again)).toBe(text);

      const reused = (await runToEnd(await build('succeed', text))).stepRun;
      await expectStatus(reused, 'Reused');
    });

    it('fails a step that fails: Failed with a reason, no output, and never reused', async ({ skip }) => {
      skipUnless('fail', skip);
      const text = uniqueText();
      const { run, stepRun } = await runToEnd(await build('fail', text));
      await expectStatus(stepRun, 'Failed');
      expect(run.status).toBe('Failed');
      expect(stepRun.record.error, 'a failed step says why').toEqual(expect.any(String));
      expect(stepRun.getOutputs()).toEqual([]);
      expect(() => stepRun.getOutputData(OUTPUT_NAME)).toThrow(
        expect.objectContaining({ code: 'OUTPUT_NOT_AVAILABLE' }),
      );

      const again = (await runToEnd(await build('fail', text))).stepRun;
      await expectStatus(again, 'Failed');
      expect(again.reusedFrom).toBeNull();
      expect(again.fingerprint).toBe(stepRun.fingerprint);
    });

    it('cancels a running step: Canceled, promptly, with no output', async ({ skip }) => {
      skipUnless('sleep', skip);
      const step = await build('sleep', uniqueText());
      const run = await submit(step);
      await waitUntilStarted(run, step.name);
      const started = Date.now();
      await run.cancel();
      const stepRun = run.findStepRun(step.name);
      await expectStatus(stepRun, 'Canceled');
      expect(run.status).toBe('Canceled');
      expect(Date.now() - started, 'cancel() returns within 20 s').toBeLessThan(20_000);
      expect(stepRun.getOutputs()).toEqual([]);
    });
  });
}

// -- helpers ---------------------------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Wait until the step is Running (its process started, or a remote step was handed over). A step kind that
 * works in-process without `runProcess` stays Queued while it runs: it is canceled after 2 s of that.
 */
async function waitUntilStarted(run: PipelineRun, step: string): Promise<void> {
  let queuedSince: number | undefined;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const status = run.findStepRun(step).status;
    if (status === 'Running') return;
    if (status === 'Queued') {
      queuedSince ??= Date.now();
      if (Date.now() - queuedSince > 2000) return;
    } else if (status !== 'NotStarted') {
      expect.fail(await diagnose(run.findStepRun(step), 'Running'));
    }
    await sleep(25);
  }
  expect.fail(`step "${step}" did not start within 30 s`);
}

/** Why a step run is not in the expected status: its error and the ends of its logs. */
async function diagnose(stepRun: StepRun, expected: string): Promise<string> {
  const record = stepRun.record;
  const tail = (text: string): string => text.split('\n').slice(-15).join('\n').trim();
  const lines = [
    `step "${record.stepName}" is ${record.status}, expected ${expected}${record.error ? `: ${record.error}` : ''}`,
  ];
  const sluice = tail(await stepRun.getSluiceLog());
  const stderr = tail(await stepRun.getStderr());
  if (sluice) lines.push(`-- Sluice log --\n${sluice}`);
  if (stderr) lines.push(`-- stderr --\n${stderr}`);
  return lines.join('\n');
}

/** Why a fingerprint value is not plain JSON (objects, arrays, strings, finite numbers, booleans, null). */
function notPlainJson(value: unknown, where: string): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') {
    return Number.isFinite(value) ? undefined : `${where} holds the number ${value}, which JSON cannot keep`;
  }
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const problem = notPlainJson(item, `${where}[${index}]`);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value === 'object') {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'an object';
      return `${where} holds ${name}, not a plain object; turn data bindings and parameters into plain values with canonicalArgument()`;
    }
    for (const [key, item] of Object.entries(value)) {
      // an undefined property is left out of JSON, and of the fingerprint, consistently
      if (item === undefined) continue;
      const problem = notPlainJson(item, `${where}.${key}`);
      if (problem) return problem;
    }
    return undefined;
  }
  return `${where} holds ${typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`}, which JSON cannot keep`;
}
