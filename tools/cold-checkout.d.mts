/**
 * Copy the checkout at `root` to `destination` as a fresh clone has it after `npm ci`: tracked (and new,
 * not ignored) files, nothing built, no nx cache; installed packages are linked. Returns `destination`.
 */
export function coldCheckout(root: string, destination: string): string;
