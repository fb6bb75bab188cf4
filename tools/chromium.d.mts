import type { Browser } from 'playwright-core';

/** Where Debian's Chromium is (`apt-get install chromium`), or `SLUICE_CHROMIUM`. */
export declare const CHROMIUM: string;
/** Debian's Chromium, headless, as root on a closed network; a coded message when it is not installed. */
export declare function launchChromium(): Promise<Browser>;
