/** The submit form of a published pipeline, typed from its parameter definitions. */

export interface ParameterDefinition {
  Name: string;
  Type: 'string' | 'number' | 'boolean';
  DefaultValue: unknown;
}

/** What the form's inputs hold: text for numbers and strings, a flag for booleans. */
export type FormValues = Record<string, string | boolean>;

/** The inputs' first values: the parameters' defaults. */
export function initialValues(parameters: readonly ParameterDefinition[]): FormValues {
  const values: FormValues = {};
  for (const parameter of parameters) {
    values[parameter.Name] =
      parameter.Type === 'boolean'
        ? parameter.DefaultValue === true
        : parameter.DefaultValue === undefined || parameter.DefaultValue === null
          ? ''
          : String(parameter.DefaultValue);
  }
  return values;
}

/**
 * The parameter assignments of the form's values, typed; only values that differ from the defaults are sent
 * (the server fills in the rest). Each bad value gives an error in words, by parameter.
 */
export function toAssignments(
  parameters: readonly ParameterDefinition[],
  values: FormValues,
): { assignments: Record<string, string | number | boolean>; errors: Record<string, string> } {
  const assignments: Record<string, string | number | boolean> = {};
  const errors: Record<string, string> = {};
  for (const parameter of parameters) {
    const raw = values[parameter.Name];
    let value: string | number | boolean;
    if (parameter.Type === 'boolean') {
      value = raw === true;
    } else if (parameter.Type === 'number') {
      const text = String(raw ?? '').trim();
      const number = Number(text);
      if (text === '' || !Number.isFinite(number)) {
        errors[parameter.Name] = `${parameter.Name} needs a number; got "${text}".`;
        continue;
      }
      value = number;
    } else {
      value = String(raw ?? '');
    }
    if (value !== parameter.DefaultValue) assignments[parameter.Name] = value;
  }
  return { assignments, errors };
}
