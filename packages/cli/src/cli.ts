import { Command } from 'commander';
import pc from 'picocolors';
import { isSluiceError } from '@sluice/core';
import { commandHint, errorLine, type CliIO, type CommandContext } from './context.js';
import * as datasets from './commands/datasets.js';
import * as env from './commands/env.js';
import * as explain from './commands/explain.js';
import * as gc from './commands/gc.js';
import * as init from './commands/init.js';
import * as logs from './commands/logs.js';
import * as publish from './commands/publish.js';
import * as run from './commands/run.js';
import * as runs from './commands/runs.js';
import * as serve from './commands/serve.js';
import * as show from './commands/show.js';
import * as studio from './commands/studio.js';
import * as token from './commands/token.js';
import pkg from '../package.json' with { type: 'json' };

export type { CliIO } from './context.js';

/** The commands, in the order `sluice --help` lists them; each module adds its command with `register`. */
const COMMANDS = [init, run, runs, show, logs, explain, datasets, env, gc, publish, token, serve, studio];

/** The `sluice` command-line program. */
export function createProgram(
  io: CliIO = { stdout: process.stdout, stderr: process.stderr },
  result: { exitCode: number } = { exitCode: 0 },
): Command {
  const program = new Command('sluice')
    .description('Machine-learning pipelines: run them, reuse what is unchanged, and see why.')
    .version(pkg.version)
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // commander's own usage errors (unknown option or command, missing or invalid argument)
      outputError: (text, write) => write(`${errorLine('OPTION_INVALID', text.replace(/^error: /, ''))}`),
    })
    .exitOverride();
  const context: CommandContext = { io, result };
  for (const command of COMMANDS) command.register(program, context);

  // a usage error ends with where to read the usage of the command at hand
  const withSubcommands = (command: Command): Command[] => [
    command,
    ...command.commands.flatMap(withSubcommands),
  ];
  for (const command of withSubcommands(program)) {
    const path: string[] = [];
    for (let at: Command | null = command; at?.parent; at = at.parent) path.unshift(at.name());
    command.showHelpAfterError(`Run \`${commandHint([...path, '--help'].join(' '))}\` for usage.`);
  }
  return program;
}

/** Run the CLI; a user's mistake is printed as `error CODE: message`, never as a stack trace. */
export async function main(argv: string[] = process.argv, io?: CliIO): Promise<number> {
  const out = io ?? { stdout: process.stdout, stderr: process.stderr };
  const result = { exitCode: 0 };
  const program = createProgram(out, result);
  try {
    await program.parseAsync(argv);
    return result.exitCode;
  } catch (error) {
    const commanderCode = (error as { code?: string }).code;
    if (commanderCode?.startsWith('commander.')) {
      return commanderCode === 'commander.helpDisplayed' || commanderCode === 'commander.version' ? 0 : 2;
    }
    if (isSluiceError(error)) {
      out.stderr.write(`${errorLine(error.code, error.message)}\n`);
      return 2;
    }
    out.stderr.write(`${pc.red('unexpected error')}: ${(error as Error)?.stack ?? String(error)}\n`);
    return 1;
  }
}
