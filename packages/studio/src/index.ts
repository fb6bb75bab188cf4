import { fileURLToPath } from 'node:url';

/** Where the studio's built files are: give it to `serve({ studio })` of `@sluice/publish`. */
export interface StudioAssets {
  /** The absolute path of the folder holding `index.html` and `assets/`. */
  root: string;
}

/** The studio's built web app, served as static files by the Sluice REST server. */
export function studioAssets(): StudioAssets {
  return { root: fileURLToPath(new URL('./app', import.meta.url)) };
}
