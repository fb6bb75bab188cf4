import {
  SluiceError,
  isPipelineParameter,
  type ParameterValue,
  type StepDefinition,
  type StepKindPlugin,
} from '@sluice/core';

/** The longest single argument Linux's execve takes: MAX_ARG_STRLEN (32 pages of 4 KiB) less the final NUL. */
export const MAX_ARGUMENT_BYTES = 128 * 1024 - 1;
/** The most argument bytes in all: half the usual ARG_MAX (2 MiB), which also has to hold the environment. */
export const MAX_COMMAND_LINE_BYTES = 1024 * 1024;

/**
 * What no process can be started with, in words: a NUL byte, an argument over MAX_ARG_STRLEN, or a command
 * line over the safe total. `name(i)` names the i-th value for the message.
 */
export function commandLineProblem(
  values: readonly string[],
  name: (index: number) => string,
): string | undefined {
  let total = 0;
  for (const [index, value] of values.entries()) {
    if (value.includes('\0')) {
      return `${name(index)} holds a NUL byte, which no process can be given; remove it`;
    }
    const bytes = Buffer.byteLength(value);
    if (bytes > MAX_ARGUMENT_BYTES) {
      return `${name(index)} is ${bytes} bytes long, but one argument can be at most ${MAX_ARGUMENT_BYTES} bytes (Linux's MAX_ARG_STRLEN); pass a value this large in a file, as an input`;
    }
    total += bytes + 1;
  }
  if (total > MAX_COMMAND_LINE_BYTES) {
    return `the arguments are ${total} bytes in all, but at most ${MAX_COMMAND_LINE_BYTES} fit on a command line; pass large values in files, as inputs`;
  }
  return undefined;
}

/**
 * At submit, check the command line a step kind declares (`commandLine`): its literal arguments and the
 * values its parameters take in this run. Data arguments become paths or addresses only when the step runs.
 */
export function checkStepArguments(
  step: StepDefinition,
  plugin: StepKindPlugin<unknown>,
  parameters: Readonly<Record<string, ParameterValue>>,
): void {
  const commandLine = plugin.commandLine?.(step);
  if (!commandLine) return;
  const values: string[] = [];
  const names: string[] = [];
  commandLine.forEach((argument, index) => {
    if (isPipelineParameter(argument)) {
      values.push(String(parameters[argument.name] ?? argument.defaultValue));
      names.push(`argument ${index + 1} (the value of parameter "${argument.name}")`);
    } else if (
      typeof argument === 'string' ||
      typeof argument === 'number' ||
      typeof argument === 'boolean'
    ) {
      const text = String(argument);
      values.push(text);
      names.push(
        `argument ${index + 1} (${JSON.stringify(text.length > 24 ? `${text.slice(0, 24)}…` : text)})`,
      );
    }
  });
  const problem = commandLineProblem(values, (index) => names[index]!);
  if (problem) {
    throw new SluiceError('ARGUMENT_INVALID', `Step "${step.name}": ${problem}.`, {
      details: { step: step.name },
    });
  }
}
