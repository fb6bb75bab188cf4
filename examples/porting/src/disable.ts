import { PublishedPipeline } from '@sluice/publish';
import { ws } from './workspace.js';

// Get the pipeline by using its id (`sluice published list` shows it)
export function disablePublished(id: string): void {
  const p = PublishedPipeline.get(ws, { id });
  p.disable();
}
