// Debian's Chromium (`apt-get install chromium`), driven by playwright-core; no browser is downloaded. Used by the
// benchmark's (g) and the studio's browser suite (tools/studio-e2e).
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';

export function launchChromium() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: install Debian's package (apt-get install chromium).`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // headless, as root, on a closed network: the flags keep it from calling out
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
