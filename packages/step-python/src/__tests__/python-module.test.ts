import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeEach, describe, expect, it } from 'vitest';
import { PYTHON_MODULE_DIR, tempDir } from './helpers.js';

const run = promisify(execFile);

let dir: string;
let contextFile: string;

/** Run Python code with the sluice module importable; SLUICE_CONTEXT is set unless `context` is false. */
async function python(
  code: string,
  { context = true, interpreter = 'python3' }: { context?: boolean; interpreter?: string } = {},
): Promise<string> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    PYTHONPATH: PYTHON_MODULE_DIR,
    PYTHONDONTWRITEBYTECODE: '1',
    SLUICE_CONTEXT: context ? contextFile : undefined,
  };
  const { stdout } = await run(interpreter, ['-c', code], { env, cwd: dir });
  return stdout.trim();
}

async function writeContext(overrides: Record<string, unknown> = {}): Promise<void> {
  await writeFile(
    contextFile,
    JSON.stringify({
      format: 1,
      runId: 'run-42',
      stepRunId: 'step-run-7',
      stepName: 'train',
      experimentName: 'iris',
      workspaceName: 'lab',
      parameters: { learning_rate: 0.1, epochs: 5, label: 'species' },
      inputs: {
        iris_data: { path: path.join(dir, 'iris.csv'), mode: 'mount', type: 'file' },
        folder: { path: path.join(dir, 'folder'), mode: 'download', type: 'directory' },
      },
      outputs: { prepped: path.join(dir, 'outputs', 'prepped') },
      metricsFile: path.join(dir, 'metrics.jsonl'),
      ...overrides,
    }),
  );
}

async function metrics(): Promise<Array<{ name: string; value: unknown; time: string }>> {
  const text = await readFile(path.join(dir, 'metrics.jsonl'), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

beforeEach(async () => {
  dir = await tempDir();
  contextFile = path.join(dir, 'context.json');
  await writeFile(
    path.join(dir, 'iris.csv'),
    'sepal_length,petal_count,species\n5.1,3,setosa\n6.2,-4,virginica\n1e2, 7 ,007a\n',
  );
  await mkdir(path.join(dir, 'folder', 'nested'), { recursive: true });
  await writeFile(path.join(dir, 'folder', 'b.csv'), 'x,y\n1,one\n');
  await writeFile(path.join(dir, 'folder', 'nested', 'a.tsv'), 'x\ty\n2\ttwo\n');
  await writeFile(path.join(dir, 'folder', 'c.txt'), 'x;y\n3;three\n');
  await writeFile(path.join(dir, 'folder', 'notes.md'), '# not data\n');
  await writeContext();
});

describe('Run.get_context()', () => {
  it('describes the step run from $SLUICE_CONTEXT', async () => {
    const out = await python(`
import json
from sluice import Run
run = Run.get_context()
print(json.dumps([run.id, run.parent.id, run.name, run.experiment.name, run.experiment.workspace.name, run.parameters]))
`);
    expect(JSON.parse(out)).toEqual([
      'step-run-7',
      'run-42',
      'train',
      'iris',
      'lab',
      { learning_rate: 0.1, epochs: 5, label: 'species' },
    ]);
  });

  it('gives inputs as path-like datasets', async () => {
    const out = await python(`
import json, os
from sluice import Run
run = Run.get_context()
iris = run.input_datasets["iris_data"]
folder = run.input_datasets["folder"]
with open(iris) as handle:
    header = handle.readline().strip()
print(json.dumps({
    "name": iris.name, "path": iris.path, "mode": iris.mode, "fspath": os.fspath(iris), "str": str(iris),
    "header": header, "joined": os.path.join(folder, "b.csv"), "folder_mode": folder.mode,
    "iris_files": iris.files(), "folder_files": folder.files(),
}))
`);
    const iris = path.join(dir, 'iris.csv');
    const folder = path.join(dir, 'folder');
    expect(JSON.parse(out)).toEqual({
      name: 'iris_data',
      path: iris,
      mode: 'mount',
      fspath: iris,
      str: iris,
      header: 'sepal_length,petal_count,species',
      joined: path.join(folder, 'b.csv'),
      folder_mode: 'download',
      iris_files: [iris],
      folder_files: ['b.csv', 'c.txt', 'nested/a.tsv', 'notes.md'].map((file) => path.join(folder, file)),
    });
  });

  it('reads delimited files as records with numbers parsed', async () => {
    const out = await python(`
import json
from sluice import Run
run = Run.get_context()
def typed(records):
    return [{key: [value, type(value).__name__] for key, value in record.items()} for record in records]
print(json.dumps([typed(run.input_datasets["iris_data"].to_records()), typed(run.input_datasets["folder"].to_records())]))
`);
    const [file, folder] = JSON.parse(out);
    expect(file).toEqual([
      { sepal_length: [5.1, 'float'], petal_count: [3, 'int'], species: ['setosa', 'str'] },
      { sepal_length: [6.2, 'float'], petal_count: [-4, 'int'], species: ['virginica', 'str'] },
      { sepal_length: [100, 'float'], petal_count: [7, 'int'], species: ['007a', 'str'] },
    ]);
    expect(folder).toEqual([
      { x: [1, 'int'], y: ['one', 'str'] },
      { x: [3, 'int'], y: ['three', 'str'] },
      { x: [2, 'int'], y: ['two', 'str'] },
    ]);
  });

  it('creates output folders and names them in outputs and output_paths', async () => {
    const out = await python(`
import json, os
from sluice import Run
run = Run.get_context()
print(json.dumps([run.outputs["prepped"], run.output_paths["prepped"], os.path.isdir(run.outputs["prepped"])]))
`);
    const prepped = path.join(dir, 'outputs', 'prepped');
    expect(JSON.parse(out)).toEqual([prepped, prepped, true]);
  });

  it('names what there is when an input, output or parameter is missing', async () => {
    const out = await python(`
from sluice import Run
run = Run.get_context()
try:
    run.input_datasets["iris"]
except KeyError as error:
    print(error.args[0])
`);
    expect(out).toBe("This step has no input named 'iris' (it has: folder, iris_data)");
  });

  it('refuses a context file in another format', async () => {
    await writeContext({ format: 2 });
    const out = await python(`
from sluice import Run
try:
    Run.get_context()
except RuntimeError as error:
    print(error)
`);
    expect(out).toMatch(/in format 2, but this sluice module reads format 1/);
  });

  it('returns an offline run when SLUICE_CONTEXT is not set', async () => {
    const out = await python(
      `
from sluice import Run
run = Run.get_context()
print(run.id, run.parent, run.parameters, run.input_datasets, run.outputs)
run.log("accuracy", 0.93)
run.log("label", "setosa")
run.log_list("losses", [0.5, 0.25])
run.log_row("scores", fold=1, accuracy=0.9)
`,
      { context: false },
    );
    expect(out.split('\n')).toEqual([
      'OfflineRun None {} {} {}',
      'accuracy: 0.93',
      'label: setosa',
      'losses: [0.5, 0.25]',
      "scores: {'fold': 1, 'accuracy': 0.9}",
    ]);
    expect(existsSync(path.join(dir, 'metrics.jsonl'))).toBe(false);
  });
});

describe('Run metrics', () => {
  it('appends one JSON line per metric', async () => {
    await python(`
from sluice import Run
run = Run.get_context()
run.log("accuracy", 0.93)
run.log("epochs", 5)
run.log("label", "setosa")
run.log("converged", True)
run.log("curve", [1, 0.5, "x"])
run.log_list("losses", (0.5, 0.25))
run.log_row("scores", fold=1, accuracy=0.9)
`);
    const lines = await metrics();
    expect(lines.map(({ name, value }) => [name, value])).toEqual([
      ['accuracy', 0.93],
      ['epochs', 5],
      ['label', 'setosa'],
      ['converged', true],
      ['curve', [1, 0.5, 'x']],
      ['losses', [0.5, 0.25]],
      ['scores', { fold: 1, accuracy: 0.9 }],
    ]);
    for (const { time } of lines) {
      expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Math.abs(Date.parse(time) - Date.now())).toBeLessThan(60_000);
    }
  });

  it('refuses values that are not numbers, strings, booleans or lists of them', async () => {
    const out = await python(`
from sluice import Run
run = Run.get_context()
for call in [
    lambda: run.log("none", None),
    lambda: run.log("dict", {"a": 1}),
    lambda: run.log("nested", [[1]]),
    lambda: run.log_list("text", "abc"),
    lambda: run.log_row("row", model=object()),
    lambda: run.log("", 1),
    lambda: run.log("nan", float("nan")),
]:
    try:
        call()
        print("logged")
    except (TypeError, ValueError) as error:
        print(type(error).__name__)
`);
    expect(out.split('\n')).toEqual([
      'TypeError',
      'TypeError',
      'TypeError',
      'TypeError',
      'TypeError',
      'TypeError',
      'ValueError',
    ]);
    expect(existsSync(path.join(dir, 'metrics.jsonl'))).toBe(false);
  });
});

describe('InputDataset.to_pandas_dataframe()', () => {
  const readFrame = `
from sluice import Run
run = Run.get_context()
try:
    frame = run.input_datasets["folder"].to_pandas_dataframe()
    print(frame.shape, list(frame.columns))
except ImportError as error:
    print(error)
`;

  it('explains that pandas is missing and points to to_records()', async () => {
    const out = await python(readFrame);
    expect(out).toMatch(
      /^to_pandas_dataframe\(\) needs pandas, which is not installed in this Python interpreter/,
    );
    expect(out).toMatch(/use to_records\(\) instead/);
  });

  const hasPandas = spawnSync('/usr/bin/python3', ['-c', 'import pandas']).status === 0;
  it.skipIf(!hasPandas)('reads the delimited files with pandas when it is installed', async () => {
    expect(await python(readFrame, { interpreter: '/usr/bin/python3' })).toBe("(3, 2) ['x', 'y']");
  });
});
