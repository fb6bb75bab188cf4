# {{packageName}}

`{{Pascal}}Step` for Sluice pipelines: a step that runs a command on its compute target.

## Install

```sh
npm install {{packageName}} @sluice/core
```

`@sluice/core` ({{coreRange}}) is a peer dependency.

## Usage

```ts
import { Pipeline, PipelineData } from '@sluice/core';
import { {{Pascal}}Step } from '{{packageName}}';

const counted = new PipelineData('counted');

const count = new {{Pascal}}Step({
  name: 'count',
  command: 'node',
  arguments: ['count.mjs', counted],
  sourceDirectory: './scripts',
  outputs: [counted],
});

export const pipeline = new Pipeline({ name: 'count', steps: [count] });
```

Each step runs `<command> <arguments…>` from a snapshot of `sourceDirectory` (or from a scratch folder
without one). Pipeline parameters in `arguments` become their values, data bindings the local paths of
the data. The command gets the current environment, the variables of the step's environment, and
`SLUICE_CONTEXT`: the path of a JSON file with the step's inputs, outputs, parameters and metrics file.
Its standard output and error become the step's logs.

The step kind is attached to every `{{Pascal}}Step`, so the runtime registers it on first submit. To
register it yourself, use `registry.use({{camel}}Step())`; a workspace can also name this package in the
`plugins` of `sluice.workspace.json` (it exports `sluicePlugins()`).

## Options

### `name`

`string`, required. The step's name, unique within the pipeline: letters, digits, `_`, `.`, `-`.

### `command`

`string`, required. The program to run: a name found on `PATH`, or a path. Part of the reuse fingerprint.

### `arguments`

`Array<string | number | boolean | PipelineParameter | data>`, default `[]`. The command line. Data given
here must also be listed in `inputs` or `outputs`.

### `sourceDirectory`

`string`, default: none. The folder the command runs from; every file in it is part of the reuse
fingerprint (except those a `.amlignore`, else `.gitignore`, leaves out).

### `inputs`, `outputs`

`Array<data>`, default `[]`. The data the step reads and writes; each output is an empty folder to write
into, committed only when the step finishes.

### `computeTarget`

`string | { name: string }`, default `'local'`. Where the step runs; it must be able to run processes.

### `runConfig`

`RunConfiguration`, default: none. Its environment's variables are added to the command's environment.

### `allowReuse`

`boolean`, default `true`. Whether an earlier run with the same fingerprint may stand in for this one.

### `runAfter`

`StepDefinition[]`, default `[]`. Steps that must finish first, beyond those implied by data.

## Errors

Thrown as `SluiceError` from `@sluice/core`, with `code`:

- `STEP_INVALID`: a missing `command`, or anything `defineStep` refuses (name, inputs, outputs, arguments).
- `STEP_FAILED`: the step's compute target cannot run processes.

A command that does not succeed fails the step run with a reason: `<command> exited with code N`,
`<command> was killed by signal S` or `timed out`.
