/**
 * The persistent REST queue: accepted Ids survive a closed server and a killed one. Steps hold (see
 * SLUICE_TEST_HOLD in helpers) so a server can be stopped while runs are queued and running.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createSluiceClient, publishPipeline, serve, type SluiceClient } from '../index.js';
import { fixture, onCleanup, sleep, until } from './helpers.js';

const dist = (path: string): string => JSON.stringify(pathToFileURL(resolve(__dirname, path)).href);

/** A folder steps hold in until a `release` file appears there. */
function holdFolder(dir: string): { hold: string; holding: () => number[]; release: () => void } {
  const hold = join(dir, 'hold');
  mkdirSync(hold);
  return {
    hold,
    holding: () =>
      readdirSync(hold)
        .filter((name) => name.startsWith('pid-'))
        .map((name) => Number(name.slice(4))),
    release: () => writeFileSync(join(hold, 'release'), ''),
  };
}

async function submitThree(client: SluiceClient, id: string): Promise<string[]> {
  const ids: string[] = [];
  for (const value of [1, 2, 3]) {
    const accepted = await client.submitPipeline(id, {
      ExperimentName: 'queued',
      ParameterAssignments: { pipeline_arg: value },
    });
    ids.push(accepted.Id);
  }
  return ids;
}

describe('the REST queue', () => {
  it('keeps accepted runs when a server closes; the next server on the workspace runs them', async () => {
    const f = await fixture();
    const { hold, holding, release } = holdFolder(f.dir);
    process.env.SLUICE_TEST_HOLD = hold;
    onCleanup(() => delete process.env.SLUICE_TEST_HOLD);
    const published = await publishPipeline(f.ws, f.pipeline(), { name: 'queued' });
    const token = f.token();

    const first = await serve({ workspace: f.ws, concurrency: 1 });
    onCleanup(() => first.close());
    const client1 = createSluiceClient({ baseUrl: first.url, token });
    const ids = await submitThree(client1, published.id);
    await until(() => holding().length === 1);
    expect((await client1.getRun(ids[0]!)).Status).toBe('Running');
    expect((await client1.getRun(ids[1]!)).Status).toBe('Queued');
    expect(await client1.getRun(ids[2]!)).toMatchObject({
      Status: 'Queued',
      Steps: [],
      ExperimentName: 'queued',
    });
    await first.close();
    await sleep(300);
    expect(f.ws.store.getRun(ids[1]!)).toBeUndefined();

    const second = await serve({ workspace: f.ws, concurrency: 2 });
    onCleanup(() => second.close());
    const client2 = createSluiceClient({ baseUrl: second.url, token });
    // the second server took the queued runs (run 1 still executes in this process, held)
    await until(() => ids.every((id) => f.ws.store.getRun(id) !== undefined));
    release();
    const finished = await Promise.all(ids.map((id) => client2.waitForRun(id, { pollIntervalMs: 50 })));
    expect(finished.map((run) => [run.Id, run.Status])).toEqual(ids.map((id) => [id, 'Finished']));
    expect(finished.map((run) => run.ParameterAssignments)).toEqual([
      { pipeline_arg: 1 },
      { pipeline_arg: 2 },
      { pipeline_arg: 3 },
    ]);
  });

  it('resumes a run interrupted by a killed server under a new Id, reusing its finished steps', async () => {
    const f = await fixture();
    const { hold, holding } = holdFolder(f.dir);
    const published = await publishPipeline(f.ws, f.pipeline(), { name: 'killed' });
    const token = f.token();

    // the server: another Node process on the same workspace
    const script = join(f.dir, 'server.mjs');
    writeFileSync(
      script,
      `
import { Workspace } from ${dist('../../../runtime/dist/index.js')};
import { pythonScriptStep } from ${dist('../../../step-python/dist/index.js')};
import { serve } from ${dist('../../dist/index.js')};
const ws = Workspace.open(${JSON.stringify(f.ws.dir)});
ws.registry.use(pythonScriptStep());
const server = await serve({ workspace: ws, concurrency: 1 });
process.stdout.write(JSON.stringify({ url: server.url }) + '\\n');
`,
    );
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, SLUICE_TEST_HOLD: hold },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    onCleanup(() => child.kill('SIGKILL'));
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const { url } = JSON.parse(line) as { url: string };
    const client = createSluiceClient({ baseUrl: url, token });
    const ids = await submitThree(client, published.id);
    await until(() => holding().length === 1);
    expect((await client.getRun(ids[0]!)).Steps.map((step) => step.Status)).toEqual(['Finished', 'Running']);
    expect((await client.getRun(ids[1]!)).Status).toBe('Queued');

    child.kill('SIGKILL');
    await once(child, 'exit');
    // the step's own process lives in its own group; an operator would stop it too
    for (const pid of holding()) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }

    // a new server in this process (no SLUICE_TEST_HOLD here: steps run straight through)
    const rest = await serve({ workspace: f.ws });
    onCleanup(() => rest.close());
    const recovered = createSluiceClient({ baseUrl: rest.url, token });
    const finished = await Promise.all(ids.map((id) => recovered.waitForRun(id, { pollIntervalMs: 50 })));
    expect(finished.map((run) => run.Status)).toEqual(['Finished', 'Finished', 'Finished']);
    expect(finished.map((run) => run.ParameterAssignments)).toEqual([
      { pipeline_arg: 1 },
      { pipeline_arg: 2 },
      { pipeline_arg: 3 },
    ]);

    const interrupted = await recovered.getRun(ids[0]!);
    expect(interrupted).toMatchObject({ Status: 'Failed', ResumedAs: finished[0]!.Id });
    expect(interrupted.Error).toMatch(/runner process ended/);
    expect(finished[0]).toMatchObject({ ResumedFrom: ids[0], ExperimentName: 'queued' });
    expect(finished[0]!.Id).not.toBe(ids[0]);
    expect(finished[0]!.Steps.map((step) => [step.Name, step.Status, step.ReusedFrom])).toEqual([
      ['prepare', 'Reused', `${ids[0]}.prepare`],
      ['compare', 'Finished', null],
    ]);
    // the queued ones kept their Ids
    expect(finished.slice(1).map((run) => run.Id)).toEqual(ids.slice(1));
    expect(existsSync(join(hold, 'release'))).toBe(false);
  });
});
