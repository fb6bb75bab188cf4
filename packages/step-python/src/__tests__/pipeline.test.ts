/**
 * End to end: PythonScriptSteps run by the runtime's real local compute as python3 subprocesses, in a
 * throwaway workspace. Nothing is mocked.
 */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DataReference,
  Environment,
  Pipeline,
  PipelineData,
  PipelineParameter,
  RunConfiguration,
  isSluiceError,
} from '@sluice/core';
import {
  ComputeTarget,
  Experiment,
  Workspace,
  type PipelineRun,
  type StepStatus,
  type SubmitOptions,
} from '@sluice/runtime';
import { PythonScriptStep, type PythonScriptStepOptions } from '../index.js';
import { tempDir } from './helpers.js';

const NUMBERS_CSV = 'name,value\na,1\nb,2\nc,3.5\n';

const opened: Workspace[] = [];
afterEach(async () => {
  // registered after helpers' afterEach, so it runs first: close the run store before its folder is removed
  await Promise.all(opened.splice(0).map((ws) => ws.close()));
});

/** Strip the common indentation of a script written inline. */
function dedent(code: string): string {
  const lines = code.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((line) => line.trim()).map((line) => line.match(/^ */)![0].length));
  return lines.map((line) => line.slice(indent)).join('\n');
}

interface Fixture {
  ws: Workspace;
  dir: string;
  /** Write scripts into a fresh source directory; returns its path. */
  scripts(files: Record<string, string>): Promise<string>;
  /** A PythonScriptStep whose scriptName is `<name>.py` in `sourceDirectory`. */
  step(options: Omit<PythonScriptStepOptions, 'scriptName'>): PythonScriptStep;
  /** `numbers.csv` uploaded to the default datastore as `data/numbers.csv`. */
  numbers(): Promise<DataReference>;
  submit(pipeline: Pipeline, options?: SubmitOptions): Promise<PipelineRun>;
}

async function fixture(): Promise<Fixture> {
  const dir = await tempDir();
  const ws = Workspace.create(path.join(dir, 'workspace'));
  opened.push(ws);
  const experiment = new Experiment(ws, 'e2e');
  let sources = 0;
  return {
    ws,
    dir,
    async scripts(files) {
      const sourceDirectory = path.join(dir, `src${++sources}`);
      await writeScripts(sourceDirectory, files);
      return sourceDirectory;
    },
    step: (options) => new PythonScriptStep({ scriptName: `${options.name}.py`, ...options }),
    async numbers() {
      const ds = ws.getDefaultDatastore();
      if (!(await ds.exists('data/numbers.csv'))) {
        const local = path.join(dir, 'numbers.csv');
        await writeFile(local, NUMBERS_CSV);
        await ds.uploadFiles([local], { targetPath: 'data' });
      }
      return new DataReference({ datastore: ds, pathOnDatastore: 'data/numbers.csv', name: 'numbers' });
    },
    async submit(pipeline, options) {
      const run = await experiment.submit(pipeline, options);
      await run.waitForCompletion({ raiseOnError: false });
      return run;
    },
  };
}

async function writeScripts(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, code] of Object.entries(files)) await writeFile(path.join(dir, name), dedent(code));
}

function statuses(run: PipelineRun): Record<string, StepStatus> {
  return Object.fromEntries(run.getSteps().map((step) => [step.name, step.status]));
}

const SUMMARISE = `
  import json, os, sys
  from sluice import Run

  run = Run.get_context()
  rows = run.input_datasets["numbers"].to_records()
  total = sum(row["value"] for row in rows)
  with open(os.path.join(sys.argv[2], "summary.json"), "w") as handle:
      json.dump({"names": [row["name"] for row in rows], "total": total}, handle)
  run.log("rows", len(rows))
  run.log("total", total)
  print("read {} rows".format(len(rows)))
`;

const REPORT = `
  import json, os
  from sluice import Run

  run = Run.get_context()
  with open(os.path.join(run.input_datasets["summary"], "summary.json")) as handle:
      summary = json.load(handle)
  with open(os.path.join(run.outputs["report"], "report.txt"), "w") as handle:
      handle.write("total of {}: {}\\n".format(", ".join(summary["names"]), summary["total"]))
  print("report written")
`;

describe('PythonScriptStep in a pipeline run by the runtime', () => {
  it('runs a two-step pipeline: data in, metrics, logs and outputs out; reuses it on the next submit', async () => {
    const f = await fixture();
    const sourceDirectory = await f.scripts({ 'summarise.py': SUMMARISE, 'report.py': REPORT });
    const numbers = await f.numbers();
    const summary = new PipelineData('summary');
    const report = new PipelineData('report');
    const pipeline = new Pipeline({
      name: 'numbers',
      steps: [
        f.step({
          name: 'summarise',
          sourceDirectory,
          inputs: [numbers],
          outputs: [summary],
          arguments: ['--out', summary],
        }),
        f.step({ name: 'report', sourceDirectory, inputs: [summary], outputs: [report] }),
      ],
    });

    const first = await f.submit(pipeline);

    expect(first.status).toBe('Finished');
    expect(statuses(first)).toEqual({ summarise: 'Finished', report: 'Finished' });
    const summarise = first.findStepRun('summarise');
    expect(summarise.getMetrics()).toEqual({ rows: 3, total: 6.5 });
    expect(await summarise.getStdout()).toBe('read 3 rows\n');
    expect(await summarise.getStderr()).toBe('');
    expect(summarise.record.exitCode).toBe(0);
    expect(await first.findStepRun('report').getStdout()).toBe('report written\n');

    const downloads = path.join(f.dir, 'downloads');
    const reportDir = await first.findStepRun('report').getOutputData('report').download(downloads);
    expect(reportDir).toBe(path.join(downloads, 'report'));
    expect(await readdir(reportDir)).toEqual(['report.txt']);
    expect(await readFile(path.join(reportDir, 'report.txt'), 'utf8')).toBe('total of a, b, c: 6.5\n');
    const summaryDir = await summarise.getOutputData('summary').download(downloads);
    expect(JSON.parse(await readFile(path.join(summaryDir, 'summary.json'), 'utf8'))).toEqual({
      names: ['a', 'b', 'c'],
      total: 6.5,
    });

    const second = await f.submit(pipeline);

    expect(second.status).toBe('Finished');
    expect(statuses(second)).toEqual({ summarise: 'Reused', report: 'Reused' });
    const reused = second.findStepRun('summarise');
    expect(reused.reusedFrom).toBe(summarise.id);
    expect(reused.explain()).toMatchObject({
      decision: 'REUSED',
      reusedFrom: { stepRunId: summarise.id, runId: first.id },
    });
    expect(reused.getMetrics()).toEqual({ rows: 3, total: 6.5 });
    expect(await reused.getStdout()).toBe('read 3 rows\n');
    expect(
      await readFile(
        path.join(await second.findStepRun('report').getOutputData('report').download(f.dir), 'report.txt'),
        'utf8',
      ),
    ).toBe('total of a, b, c: 6.5\n');
  });

  it('re-runs only the steps a changed parameter reaches, and says why', async () => {
    const f = await fixture();
    const sourceDirectory = await f.scripts({
      'copy.py': `
        import os, shutil
        from sluice import Run

        run = Run.get_context()
        shutil.copy(run.input_datasets["numbers"], os.path.join(run.outputs["copied"], "numbers.csv"))
      `,
      'scale.py': `
        import argparse
        from sluice import Run

        parser = argparse.ArgumentParser()
        parser.add_argument("--data")
        parser.add_argument("--factor", type=float)
        args = parser.parse_args()
        run = Run.get_context()
        rows = run.input_datasets["copied"].to_records()
        run.log("scaled_total", sum(row["value"] for row in rows) * args.factor)
        run.log("factor_parameter", run.parameters["factor"])
      `,
    });
    const numbers = await f.numbers();
    const copied = new PipelineData('copied');
    const factor = new PipelineParameter({ name: 'factor', defaultValue: 2 });
    const pipeline = new Pipeline({
      steps: [
        f.step({ name: 'copy', sourceDirectory, inputs: [numbers], outputs: [copied] }),
        f.step({
          name: 'scale',
          sourceDirectory,
          inputs: [copied],
          arguments: ['--data', copied, '--factor', factor],
        }),
      ],
    });

    const first = await f.submit(pipeline);
    const second = await f.submit(pipeline, { parameters: { factor: 3 } });

    expect(statuses(first)).toEqual({ copy: 'Finished', scale: 'Finished' });
    expect(first.findStepRun('scale').getMetrics()).toEqual({ scaled_total: 13, factor_parameter: 2 });
    expect(statuses(second)).toEqual({ copy: 'Reused', scale: 'Finished' });
    expect(second.findStepRun('scale').getMetrics()).toEqual({ scaled_total: 19.5, factor_parameter: 3 });
    expect(second.findStepRun('scale').explain()).toMatchObject({
      decision: 'RAN',
      comparedWith: { stepRunId: first.findStepRun('scale').id },
      reasons: ['parameter factor 2 → 3'],
    });
  });

  it('fails a step whose script raises, skips its dependants and keeps the traceback', async () => {
    const f = await fixture();
    const sourceDirectory = await f.scripts({
      'explode.py': `
        print("about to fail")
        raise ValueError("boom")
      `,
      'after.py': 'print("never")\n',
      'last.py': 'print("never")\n',
    });
    const broken = new PipelineData('broken');
    const next = new PipelineData('next');
    const pipeline = new Pipeline({
      steps: [
        f.step({ name: 'explode', sourceDirectory, outputs: [broken] }),
        f.step({ name: 'after', sourceDirectory, inputs: [broken], outputs: [next] }),
        f.step({ name: 'last', sourceDirectory, inputs: [next] }),
      ],
    });

    const run = await f.submit(pipeline);

    expect(run.status).toBe('Failed');
    expect(run.record.error).toBe('step failed: explode');
    expect(statuses(run)).toEqual({ explode: 'Failed', after: 'Skipped', last: 'Skipped' });
    const explode = run.findStepRun('explode');
    expect(explode.record).toMatchObject({ exitCode: 1, error: 'python exited with code 1' });
    expect(await explode.getStdout()).toBe('about to fail\n');
    const stderr = await explode.getStderr();
    expect(stderr).toMatch(/^Traceback \(most recent call last\):/);
    expect(stderr).toMatch(/File ".*explode\.py", line 2, in <module>/);
    expect(stderr.trimEnd().split('\n').at(-1)).toBe('ValueError: boom');
    expect(run.findStepRun('after').record.error).toBe('an upstream step did not finish');
    expect(() => explode.getOutputData('broken')).toThrow(/its outputs exist only once it has finished/);
    await expect(run.waitForCompletion({ raiseOnError: true })).rejects.toThrow(
      /failed: step failed: explode/,
    );
  });

  it("passes the Environment's variables to the script and re-runs when the environment changes", async () => {
    const f = await fixture();
    const sourceDirectory = await f.scripts({ 'greet.py': 'import os\nprint(os.environ["GREETING"])\n' });
    const greeting = (version: string, text: string): Pipeline =>
      new Pipeline({
        steps: [
          f.step({
            name: 'greet',
            sourceDirectory,
            runConfig: new RunConfiguration({
              environment: new Environment({
                name: 'greeting',
                version,
                environmentVariables: { GREETING: text },
              }),
            }),
          }),
        ],
      });

    const hello = await f.submit(greeting('1', 'hello'));
    const bonjour = await f.submit(greeting('2', 'bonjour'));
    const again = await f.submit(greeting('1', 'hello'));

    expect(await hello.findStepRun('greet').getStdout()).toBe('hello\n');
    const greet = bonjour.findStepRun('greet');
    expect(greet.status).toBe('Finished');
    expect(await greet.getStdout()).toBe('bonjour\n');
    expect(greet.explain().reasons).toEqual(['environment greeting:1 → greeting:2']);
    expect(again.findStepRun('greet')).toMatchObject({
      status: 'Reused',
      reusedFrom: hello.findStepRun('greet').id,
    });

    // the same name and version with other variables is refused before anything runs
    const conflict = await f.submit(greeting('1', 'hallo')).catch((error: unknown) => error);
    expect(isSluiceError(conflict, 'ENVIRONMENT_CONFLICT')).toBe(true);
  });

  it('fails the step, naming the interpreter, when the environment points at one that does not exist', async () => {
    const f = await fixture();
    const sourceDirectory = await f.scripts({ 'noop.py': 'print("never")\n' });
    const environment = new Environment({ name: 'missing', python: { interpreter: '/no/such/python3' } });
    const pipeline = new Pipeline({
      steps: [f.step({ name: 'noop', sourceDirectory, runConfig: new RunConfiguration({ environment }) })],
    });

    const run = await f.submit(pipeline);

    const step = run.findStepRun('noop');
    expect(step.status).toBe('Failed');
    expect(step.record.exitCode).toBeNull();
    // found when the environment is made ready, before the step is fingerprinted
    expect(step.record.error).toMatch(
      /^ENVIRONMENT_INTERPRETER_NOT_FOUND: .*cannot start the Python interpreter "\/no\/such\/python3"/,
    );
    expect(step.record.error).toMatch(/python\.interpreter/);
    expect(await step.getStdout()).toBe('');
  });

  it('refuses at submit a missing script (naming the user folder) or a compute target that runs no processes', async () => {
    const f = await fixture();
    const marker = path.join(f.dir, 'first-ran');
    const sourceDirectory = await f.scripts({
      'first.py': `open(${JSON.stringify(marker)}, "w").write("ran")`,
      'second.py': 'print("second")',
    });
    const first = f.step({ name: 'first', sourceDirectory });
    f.ws.registry.use({
      type: 'compute',
      kind: 'api',
      name: 'tests',
      version: '1.0.0',
      coreRange: '^0.1.0',
      createTarget: (name) => ({ name, kind: 'api', describe: () => ({}) }),
    });
    await ComputeTarget.create(f.ws, 'remote', { provider: 'api', options: {} });
    const refusals: Array<{ code: 'SCRIPT_NOT_FOUND' | 'STEP_INVALID'; second: PythonScriptStep }> = [
      {
        code: 'SCRIPT_NOT_FOUND',
        second: new PythonScriptStep({
          name: 'second',
          scriptName: 'missing.py',
          sourceDirectory,
          runAfter: [first],
        }),
      },
      {
        code: 'STEP_INVALID',
        second: f.step({ name: 'second', sourceDirectory, runAfter: [first], computeTarget: 'remote' }),
      },
    ];
    const kept = await readdir(f.ws.dataDir);
    expect(kept).not.toContain('snapshots');
    for (const { code, second } of refusals) {
      const error = await new Experiment(f.ws, 'e2e')
        .submit(new Pipeline({ steps: [first, second] }))
        .catch((caught: unknown) => caught);
      expect(isSluiceError(error, code), String(error)).toBe(true);
      if (code === 'SCRIPT_NOT_FOUND') {
        expect((error as Error).message).toContain(
          `the script "missing.py" is not a file in the source directory ${sourceDirectory}.`,
        );
        expect((error as Error).message).not.toContain('.sluice');
      }
      expect(f.ws.store.listRuns()).toEqual([]);
      // no run folder, no snapshot
      expect(await readdir(f.ws.dataDir)).toEqual(kept);
      await expect(readFile(marker, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });

  it('copies an asDownload() input into the working folder and gives a mounted one in place', async () => {
    const f = await fixture();
    const sourceDirectory = await f.scripts({
      'where.py': `
        import json, sys
        from sluice import Run

        run = Run.get_context()
        print(json.dumps({
            "argv": sys.argv[1:],
            "inputs": {
                name: {"path": data.path, "mode": data.mode, "text": open(data).read()}
                for name, data in run.input_datasets.items()
            },
        }))
      `,
    });
    const numbers = await f.numbers();
    const copied = numbers.asDownload().asNamedInput('copied');
    const mounted = numbers.asMount().asNamedInput('mounted');
    const pipeline = new Pipeline({
      steps: [
        f.step({
          name: 'where',
          sourceDirectory,
          inputs: [copied, mounted],
          arguments: ['--copied', copied],
        }),
      ],
    });

    const run = await f.submit(pipeline);

    const step = run.findStepRun('where');
    expect(step.status).toBe('Finished');
    const printed = JSON.parse(await step.getStdout()) as {
      argv: string[];
      inputs: Record<string, { path: string; mode: string; text: string }>;
    };
    const copy = path.join(step.record.logDir!, 'inputs', 'copied', 'numbers.csv');
    const inPlace = f.ws.getDefaultDatastore().localPath!('data/numbers.csv');
    expect(printed.inputs).toEqual({
      copied: { path: copy, mode: 'download', text: NUMBERS_CSV },
      mounted: { path: inPlace, mode: 'mount', text: NUMBERS_CSV },
    });
    expect(printed.argv).toEqual(['--copied', copy]);
    expect(inPlace.startsWith(f.ws.dataDir)).toBe(true);
    expect(copy).not.toBe(inPlace);
    expect(await readFile(copy, 'utf8')).toBe(NUMBERS_CSV);
  });
});
