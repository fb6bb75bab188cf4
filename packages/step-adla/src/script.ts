import { SluiceError } from '@sluice/core';

/** `@@name@@`: where an input, output or param of the step goes in a U-SQL script. */
const PLACEHOLDER = /@@([A-Za-z0-9_.-]+)@@/g;

/** Names that can be written as a placeholder. */
export const PLACEHOLDER_NAME = /^[A-Za-z0-9_.-]+$/;

/** The placeholder names a script uses, each once, in order of first use. */
export function scriptPlaceholders(script: string): string[] {
  return [...new Set([...script.matchAll(PLACEHOLDER)].map((match) => match[1]!))];
}

/** Fail with PARAMETER_UNKNOWN when the script uses a placeholder that is not among `known`. */
export function checkPlaceholders(
  script: string,
  known: readonly string[],
  where: { step: string; scriptName: string },
): void {
  const unknown = scriptPlaceholders(script).filter((name) => !known.includes(name));
  if (unknown.length === 0) return;
  const listed = unknown.map((name) => `@@${name}@@`).join(', ');
  const names = known.length ? known.map((name) => `@@${name}@@`).join(', ') : 'none';
  throw new SluiceError(
    'PARAMETER_UNKNOWN',
    `Step "${where.step}": ${where.scriptName} uses ${listed}, which ${unknown.length === 1 ? 'is' : 'are'} not an input, output or param of the step. Known: ${names}. Fix the name in the script, or add it to the step's params, inputs or outputs.`,
    { details: { step: where.step, scriptName: where.scriptName, unknown, known: [...known] } },
  );
}

/** Replace every `@@name@@` with its value; unknown names fail as in `checkPlaceholders`. */
export function substitutePlaceholders(
  script: string,
  values: ReadonlyMap<string, string>,
  where: { step: string; scriptName: string },
): string {
  checkPlaceholders(script, [...values.keys()], where);
  return script.replace(PLACEHOLDER, (_match, name: string) => values.get(name)!);
}
