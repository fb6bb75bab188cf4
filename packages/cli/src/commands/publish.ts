import type { Command } from 'commander';
import { loadPublish, openWorkspace, workspaceOption, type CommandContext } from '../context.js';
import { loadPipeline } from '../load-pipeline.js';

export function register(program: Command, { io }: CommandContext): void {
  program
    .command('publish')
    .description('publish a pipeline module as a versioned pipeline (and optionally an endpoint version)')
    .argument('<pipeline>', 'a module whose default export is a Pipeline or ({ workspace }) => Pipeline')
    .requiredOption('--name <name>', 'the published pipeline name')
    .option('--pipeline-version <version>', 'a version label, e.g. 1.0')
    .option('--description <text>', 'what it does')
    .option(
      '--endpoint <name>',
      'also add it to this pipeline endpoint (created if missing) as a new version',
    )
    .option('--default', 'with --endpoint: make it the default version')
    .option('--json', 'print JSON')
    .addOption(workspaceOption())
    .action(
      async (
        file: string,
        options: {
          name: string;
          pipelineVersion?: string;
          description?: string;
          endpoint?: string;
          default?: boolean;
          json?: boolean;
          workspace?: string;
        },
      ) => {
        const { PipelineEndpoint, publishPipeline } = await loadPublish('publish');
        const ws = await openWorkspace(options);
        try {
          const { pipeline } = await loadPipeline(file, ws);
          const published = await publishPipeline(ws, pipeline, {
            name: options.name,
            ...(options.pipelineVersion ? { version: options.pipelineVersion } : {}),
            ...(options.description ? { description: options.description } : {}),
          });
          let endpointVersion: string | undefined;
          if (options.endpoint) {
            const existing = PipelineEndpoint.list(ws).find((endpoint) => endpoint.name === options.endpoint);
            if (!existing) {
              await PipelineEndpoint.publish(ws, { name: options.endpoint, pipeline: published });
              endpointVersion = '0';
            } else {
              endpointVersion = options.default ? existing.addDefault(published) : existing.add(published);
            }
          }
          const result = {
            id: published.id,
            name: published.name,
            version: published.version,
            endpoint: published.endpoint,
            ...(options.endpoint ? { pipelineEndpoint: options.endpoint, endpointVersion } : {}),
          };
          if (options.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          else {
            io.stdout.write(
              `Published ${published.name}${published.version ? ` ${published.version}` : ''} as ${published.id}\n`,
            );
            io.stdout.write(`  REST: POST ${published.endpoint}\n`);
            if (options.endpoint)
              io.stdout.write(
                `  endpoint ${options.endpoint}, version ${endpointVersion}: POST /endpoints/${options.endpoint}\n`,
              );
          }
        } finally {
          await ws.close();
        }
      },
    );
}
