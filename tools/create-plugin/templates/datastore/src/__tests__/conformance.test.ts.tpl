import { PluginRegistry } from '@sluice/core';
import { testDatastore } from '@sluice/testing';
import { expect, it } from 'vitest';
import { {{camel}}DatastoreProvider } from '../index.js';

const provider = {{camel}}DatastoreProvider();

it('is a datastore provider the registry accepts', () => {
  expect(new PluginRegistry().use(provider).datastore(provider.kind)).toBe(provider);
});

// The shared conformance suite every datastore passes.
testDatastore('{{Pascal}}Datastore', async () => ({
  datastore: provider.createDatastore('conformance', {}, { workspaceDir: process.cwd(), secret: () => undefined }),
}));
