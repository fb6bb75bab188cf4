import { userInfo } from 'node:os';
import { relative } from 'node:path';
import { InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import { SluiceError, isSluiceError } from '@sluice/core';
import { Workspace, parseDuration } from '@sluice/runtime';
import type * as Publish from '@sluice/publish';

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

/** What every command's `register` gets: where to print, and the exit code `main` returns. */
export interface CommandContext {
  io: CliIO;
  result: { exitCode: number };
}

/** How the CLI prints an error: `error CODE: message`. */
export function errorLine(code: string, message: string): string {
  return `${pc.red(`error ${code}`)}: ${message}`;
}

/** The `-w, --workspace <dir>` option every command that opens a workspace takes. */
export function workspaceOption(): Option {
  return new Option(
    '-w, --workspace <dir>',
    'the workspace folder (default: found from the current folder up)',
  );
}

/** Open the workspace named by `--workspace`, or the one found from the current folder up. */
export async function openWorkspace(options: { workspace?: string }): Promise<Workspace> {
  const ws = options.workspace ? Workspace.open(options.workspace) : Workspace.fromConfig();
  try {
    return await ws.ready();
  } catch (error) {
    await ws.close();
    throw error;
  }
}

/** The name of the user running the CLI, recorded as who submitted a run (null when it cannot be read). */
export function localUser(): string | null {
  try {
    return `user:${userInfo().username}`;
  } catch {
    return null;
  }
}

/** An option value that must be a whole number of at least `minimum`. */
export function wholeNumber(minimum: number): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(number) || number < minimum) {
      throw new InvalidArgumentError(`Expected a whole number${minimum > 0 ? ` ≥ ${minimum}` : ''}.`);
    }
    return number;
  };
}

/** An option value that must be a duration (`45s`, `90m`, `12h`, `30d`, `2w`); parsed to milliseconds. */
export function durationMs(value: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError(isSluiceError(error) ? error.message : String(error));
  }
}

/** A repeatable `name=value` option, collected into an object. */
export function collectPair(value: string, previous: Record<string, string>): Record<string, string> {
  const index = value.indexOf('=');
  if (index <= 0) throw new InvalidArgumentError(`expected name=value, got "${value}"`);
  return { ...previous, [value.slice(0, index)]: value.slice(index + 1) };
}

const SHELL_SAFE = /^[\w@%+=:,./-]+$/;
/** A word as a POSIX shell reads it back. */
const shellWord = (word: string): string =>
  SHELL_SAFE.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;

/**
 * A `sluice` command line to print as a hint, written so that it runs where the user typed this one.
 * Under npm (`npx`, `npm run`; npm sets `npm_command`) the command is not on the shell's PATH, so the hint
 * is `npx --no sluice …`, which runs the installed CLI and never installs a package of that name. When the
 * workspace was named with `--workspace`, the hint names it too, as a path from the folder the user is in
 * (npm's `INIT_CWD`, else the current folder).
 */
export function commandHint(args: string, workspaceDir?: string): string {
  const program = process.env.npm_command ? 'npx --no sluice' : 'sluice';
  if (!workspaceDir) return `${program} ${args}`;
  const fromHere = relative(process.env.INIT_CWD || process.cwd(), workspaceDir) || '.';
  const path = fromHere.length <= workspaceDir.length ? fromHere : workspaceDir;
  return `${program} ${args} -w ${shellWord(path)}`;
}

/**
 * Load a package a command needs but the CLI does not depend on (an optional peer dependency); when it is
 * not installed, the error says which package to install.
 */
export async function loadOptional<T>(name: string, command: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
    if (code === 'ERR_MODULE_NOT_FOUND' && typeof message === 'string' && message.includes(`'${name}'`)) {
      throw new SluiceError(
        'PLUGIN_NOT_INSTALLED',
        `sluice ${command} needs ${name}; install it with npm install ${name}`,
        { cause: error, details: { package: name, command } },
      );
    }
    throw error;
  }
}

/** What `@sluice/studio` gives at runtime: the folder of its built app. */
export interface StudioPackage {
  studioAssets(): { root: string };
}

/** The studio's package name, kept in a variable: the CLI does not depend on it (an optional peer). */
const STUDIO_PACKAGE: string = '@sluice/studio';

/** `@sluice/studio`, which `sluice studio` needs (PLUGIN_NOT_INSTALLED naming it when it is missing). */
export function loadStudio(command: string): Promise<StudioPackage> {
  return loadOptional(STUDIO_PACKAGE, command, () => import(STUDIO_PACKAGE) as Promise<StudioPackage>);
}

/** `@sluice/studio` when it is installed, else undefined (`sluice serve` serves the studio when it is). */
export async function studioIfInstalled(): Promise<StudioPackage | undefined> {
  try {
    return await loadStudio('serve');
  } catch (error) {
    if (isSluiceError(error, 'PLUGIN_NOT_INSTALLED')) return undefined;
    throw error;
  }
}

/** `@sluice/publish`, which `sluice publish`, `sluice token` and `sluice serve` need. */
export function loadPublish(command: string): Promise<typeof Publish> {
  return loadOptional('@sluice/publish', command, () => import('@sluice/publish'));
}
