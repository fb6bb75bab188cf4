import { Workspace } from '@sluice/runtime';

// finds sluice.workspace.json from the current folder up (`sluice init` creates one)
export const ws = Workspace.fromConfig();
