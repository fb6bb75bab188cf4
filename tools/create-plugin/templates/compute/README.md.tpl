# {{packageName}}

`{{kind}}` compute targets for Sluice: steps that run processes run them through this provider.

## Install

```sh
npm install {{packageName}} @sluice/core
```

`@sluice/core` ({{coreRange}}) is a peer dependency.

## Usage

```ts
import { ComputeTarget, Workspace } from '@sluice/runtime';
import { {{camel}}Compute, {{camel}}ComputeProvider } from '{{packageName}}';

const ws = Workspace.fromConfig();
ws.registry.use({{camel}}ComputeProvider());
await ComputeTarget.create(ws, 'my-{{kind}}', {{camel}}Compute({ maxConcurrency: 4 }));
// then give steps `computeTarget: 'my-{{kind}}'`
```

The workspace saves the target's configuration in `sluice.workspace.json`. To have a reopened workspace
load the provider by itself, name this package in its `plugins` (the package exports `sluicePlugins()`).

Each process runs in its own process group; a timeout or a cancel kills the group.

## Options

### `maxConcurrency`

`number`, default `1`. How many processes run at once; the others wait in order.

## Errors

Thrown as `SluiceError` from `@sluice/core`, with `code`:

- `WORKSPACE_CONFIG_INVALID`: `maxConcurrency` is not a whole number ≥ 1.
- `STEP_FAILED`: a command cannot be started (for example, it is not on `PATH`).
