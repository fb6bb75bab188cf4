import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AzuriteInstance } from '@sluice/testing';

/** An account SAS for the emulator account, valid for an hour, allowing everything the datastore does. */
export async function accountSas(azurite: AzuriteInstance): Promise<string> {
  const sdk = await import('@azure/storage-blob');
  return sdk
    .generateAccountSASQueryParameters(
      {
        expiresOn: new Date(Date.now() + 3_600_000),
        permissions: sdk.AccountSASPermissions.parse('racwdl'),
        resourceTypes: sdk.AccountSASResourceTypes.parse('sco').toString(),
        services: sdk.AccountSASServices.parse('b').toString(),
      },
      new sdk.StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
    )
    .toString();
}

/** Every file below a folder (recursively) whose bytes contain `needle`. */
export function filesContaining(root: string, needle: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      const info = statSync(path);
      if (info.isDirectory()) walk(path);
      else if (readFileSync(path).includes(needle)) found.push(path);
    }
  };
  walk(root);
  return found;
}
