import { Option, type Command } from 'commander';
import { SluiceError, isSluiceError } from '@sluice/core';
import {
  commandHint,
  durationMs,
  loadPublish,
  openWorkspace,
  workspaceOption,
  type CommandContext,
} from '../context.js';
import { table } from '../format.js';

export function register(program: Command, { io }: CommandContext): void {
  const token = program.command('token').description('bearer tokens for the REST server');
  token
    .command('create')
    .description('create a token (shown once; only a hash of it is kept)')
    .addOption(
      new Option('--scope <scope>', "'read' (GET requests) or 'submit' (GET and POST)")
        .choices(['read', 'submit'])
        .makeOptionMandatory(),
    )
    .option('--expires <age>', 'lifetime, e.g. 90m, 12h, 30d (default: no expiry)', (value) => {
      durationMs(value);
      return value;
    })
    .option('--description <text>', 'what it is for')
    .option('--json', 'print JSON')
    .addOption(workspaceOption())
    .action(
      async (options: {
        scope: 'read' | 'submit';
        expires?: string;
        description?: string;
        json?: boolean;
        workspace?: string;
      }) => {
        const { createToken } = await loadPublish('token create');
        const ws = await openWorkspace(options);
        try {
          const created = createToken(ws, {
            scope: options.scope,
            ...(options.expires ? { expiresIn: options.expires } : {}),
            ...(options.description ? { description: options.description } : {}),
          });
          if (options.json) io.stdout.write(`${JSON.stringify(created, null, 2)}\n`);
          else {
            io.stdout.write(`${created.token}\n`);
            io.stderr.write(
              `token ${created.id}, scope ${created.scope}${created.expiresAt ? `, expires ${created.expiresAt}` : ''}; it is shown only now.\n`,
            );
          }
        } finally {
          await ws.close();
        }
      },
    );
  token
    .command('list')
    .description('list tokens (never their secrets)')
    .option('--json', 'print JSON')
    .addOption(workspaceOption())
    .action(async (options: { json?: boolean; workspace?: string }) => {
      const { listTokens } = await loadPublish('token list');
      const ws = await openWorkspace(options);
      try {
        const tokens = listTokens(ws);
        if (options.json) io.stdout.write(`${JSON.stringify(tokens, null, 2)}\n`);
        else if (tokens.length === 0)
          io.stdout.write(
            `No tokens yet. Create one with: ${commandHint('token create --scope submit', options.workspace && ws.dir)}\n`,
          );
        else {
          const rows = tokens.map((entry) => [
            entry.id,
            entry.scope,
            entry.revokedAt
              ? 'revoked'
              : entry.expiresAt && Date.parse(entry.expiresAt) < Date.now()
                ? 'expired'
                : 'active',
            entry.expiresAt ?? 'never',
            entry.description ?? '',
          ]);
          io.stdout.write(`${table(['ID', 'SCOPE', 'STATE', 'EXPIRES', 'DESCRIPTION'], rows)}\n`);
        }
      } finally {
        await ws.close();
      }
    });
  token
    .command('revoke')
    .description('revoke a token by id')
    .argument('<id>', 'the token id (from sluice token list)')
    .addOption(workspaceOption())
    .action(async (id: string, options: { workspace?: string }) => {
      const { revokeToken } = await loadPublish('token revoke');
      const ws = await openWorkspace(options);
      try {
        try {
          revokeToken(ws, id);
        } catch (error) {
          if (!isSluiceError(error, 'TOKEN_NOT_FOUND')) throw error;
          throw new SluiceError(
            'TOKEN_NOT_FOUND',
            `No token has id "${id}"; list the tokens with \`${commandHint('token list', options.workspace && ws.dir)}\`.`,
            { cause: error, details: { id } },
          );
        }
        io.stdout.write(`Revoked token ${id}.\n`);
      } finally {
        await ws.close();
      }
    });
}
