/**
 * Sluice objects carry a brand so that `instanceof` holds across copies of @sluice/core (a pipeline module
 * loaded as CommonJS, or a second installed copy): the brand, not the class identity, decides.
 */
export const BRAND: unique symbol = Symbol.for('sluice.brand') as never;

export function hasBrand(value: unknown, brand: string): boolean {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === brand;
}
