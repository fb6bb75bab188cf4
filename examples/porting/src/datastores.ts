import { Datastore } from '@sluice/runtime';
import { ws } from './workspace.js';

// Default datastore
export const defDataStore = ws.getDefaultDatastore();

// Get the blob storage associated with the workspace
export const defBlobStore = Datastore.get(ws, 'workspaceblobstore');

// Get file storage associated with the workspace
export const defFileStore = Datastore.get(ws, 'workspacefilestore');
