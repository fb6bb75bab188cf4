# {{packageName}}

`{{kind}}` datastores for Sluice: named stores of files that steps read inputs from and write outputs to.

## Install

```sh
npm install {{packageName}} @sluice/core
```

`@sluice/core` ({{coreRange}}) is a peer dependency.

## Usage

```ts
import { Workspace } from '@sluice/runtime';
import { {{camel}}DatastoreProvider } from '{{packageName}}';

const ws = Workspace.fromConfig();
ws.registry.use({{camel}}DatastoreProvider());
const store = ws.registerDatastore('my_{{snake}}', { provider: '{{kind}}', options: {} });
await store.uploadFiles(['./data.csv'], { targetPath: 'raw' });
```

The workspace saves the datastore's configuration in `sluice.workspace.json`. To have a reopened
workspace load the provider by itself, name this package in its `plugins` (the package exports
`sluicePlugins()`).

As generated, the store keeps its files in memory, for as long as the process runs: replace the storage
in `{{Pascal}}Datastore` with your service's client.

## Options

None yet: add your service's settings to `{{Pascal}}DatastoreOptions` and document each here (type and
default). Keep credentials out of the options: read them with `context.secret(name)` from secrets the user
stores with `ws.setSecret(name, value)`.

## Errors

Thrown as `SluiceError` from `@sluice/core`, with `code`:

- `DATASTORE_PATH_ESCAPE`: a path that is absolute, uses `..`, or names the store root for a write or
  delete.
- `DATASTORE_PATH_NOT_FOUND`: nothing at the path (read, download, copy, content identity), or a missing
  local file to upload.
- `DATASTORE_FILE_EXISTS`: writing, uploading or copying over an existing path without `overwrite: true`.
