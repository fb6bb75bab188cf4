#!/usr/bin/env node
// Compile workspace.schema.json (and the built-in providers' option schemas in it) into validation code, so
// that opening a workspace neither loads nor runs a JSON Schema compiler. Writes
// src/generated/workspace-schema.ts; `--check` only says whether that file is up to date (exit 1 if not).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';

const root = new URL('../', import.meta.url);
const target = fileURLToPath(new URL('src/generated/workspace-schema.ts', root));
const schema = JSON.parse(readFileSync(new URL('workspace.schema.json', root), 'utf8'));

/** The options the runtime validates with (src/config-schema.ts); `unicode: false` keeps the code self-contained. */
export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: false, unicode: false };

export function generate() {
  const ajv = new Ajv({ ...AJV_OPTIONS, logger: false, code: { source: true, esm: true } });
  ajv.addSchema({ ...schema, $id: 'workspace' });
  const code = standalone(ajv, {
    validateWorkspace: 'workspace',
    validateLocalComputeOptions: 'workspace#/definitions/localComputeOptions',
    validateLocalDatastoreOptions: 'workspace#/definitions/localDatastoreOptions',
  });
  if (/\brequire\(|\bimport\b/.test(code.replace(/^"use strict";/, ''))) {
    throw new Error('the generated validators import a module; keep them self-contained');
  }
  return [
    '// Generated from workspace.schema.json by scripts/compile-schema.mjs: do not edit; run',
    '// `npm run compile-schema -w @sluice/runtime` after changing the schema.',
    '/* eslint-disable */',
    '// @ts-nocheck',
    code.replace(/^"use strict";/, ''),
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const code = generate();
  if (process.argv.includes('--check')) {
    const current = readFileSync(target, 'utf8');
    if (current !== code) {
      console.error(`${target} is out of date: run npm run compile-schema -w @sluice/runtime`);
      process.exit(1);
    }
  } else {
    writeFileSync(target, code);
  }
}
