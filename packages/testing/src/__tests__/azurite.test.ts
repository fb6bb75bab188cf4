import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { expect, it } from 'vitest';
import { AZURITE_ACCOUNT_KEY, startAzurite } from '../index.js';

const connects = (port: number): Promise<boolean> =>
  new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });

it('starts the Azurite blob service on a free port and stops it, removing its data folder', async () => {
  const azurite = await startAzurite();
  const url = new URL(azurite.blobEndpoint);
  expect(url.hostname).toBe('127.0.0.1');
  expect(url.pathname).toBe('/devstoreaccount1');
  expect(azurite.accountKey).toBe(AZURITE_ACCOUNT_KEY);
  expect(azurite.connectionString).toContain(`BlobEndpoint=${azurite.blobEndpoint};`);
  expect(await connects(Number(url.port))).toBe(true);
  expect(existsSync(azurite.location)).toBe(true);
  await azurite.stop();
  expect(await connects(Number(url.port))).toBe(false);
  expect(existsSync(azurite.location)).toBe(false);
  await azurite.stop();
});
