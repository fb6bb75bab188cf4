/**
 * The shared step kind conformance suite, run against the local contract server (contract-server.ts). The
 * server stands in for the U-SQL job: a `succeed` job writes the text the script carries to the file it
 * names with `TO "file://…"`, a `fail` job ends Failed, a `sleep` job stays Running until it is canceled.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testComputeProvider, testStepKind } from '@sluice/testing';
import { AdlaStep, adlaComputeProvider, adlaStep, attachAdlaCompute, type AdlaStepConfig } from '../index.js';
import { ContractServer, failed, type ContractJob, type JobOutcome } from './contract-server.js';

/** A script that writes its text to result.txt; the marker tells the contract server how the job behaves. */
const script = (behaviour: string): string =>
  [
    `// behaviour: ${behaviour}`,
    '// text: @@text@@',
    '@result = SELECT * FROM (VALUES ("@@text@@")) AS T(text);',
    'OUTPUT @result TO "@@result@@/result.txt" USING Outputters.Text(quoting: false);',
    '',
  ].join('\n');

const behaviourOf = (job: ContractJob): string | undefined =>
  /^\/\/ behaviour: (\w+)$/m.exec(job.script)?.[1];

async function writeText(job: ContractJob): Promise<JobOutcome> {
  if (behaviourOf(job) === 'fail') return failed('E_RUNTIME_USER_FAILED', 'the script failed, as asked');
  const text = /^\/\/ text: (.*)$/m.exec(job.script)![1]!;
  for (const [, target] of job.script.matchAll(/\bTO\s+"(file:[^"]+)"/g)) {
    const file = fileURLToPath(target!);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text);
  }
  return { result: 'Succeeded' };
}

testStepKind<AdlaStepConfig>('AdlaStep (contract server)', async () => {
  const server = await ContractServer.start();
  server.outcome = writeText;
  server.holdAt = (job) => (behaviourOf(job) === 'sleep' ? 'Running' : undefined);
  return {
    plugin: adlaStep(),
    sourceFiles: {
      'succeed.usql': script('succeed'),
      'fail.usql': script('fail'),
      'sleep.usql': script('sleep'),
    },
    makeStep: ({ name, behaviour, sourceDirectory, output, text, allowReuse }) =>
      new AdlaStep({
        name,
        scriptName: `${behaviour}.usql`,
        sourceDirectory,
        computeTarget: 'adla',
        outputs: [output],
        params: { text },
        allowReuse,
      }),
    async prepareWorkspace(ws) {
      await attachAdlaCompute(ws, 'adla', {
        accountName: 'conformance',
        resourceGroup: 'tests',
        jobEndpoint: server.url,
        credential: { token: server.token },
        pollIntervalMs: 5,
      });
    },
    cleanup: () => server.close(),
  };
});

// Targets submit jobs rather than run processes, so the suite checks shape and describe() (no secrets).
testComputeProvider('adla', () => ({
  provider: adlaComputeProvider(),
  options: {
    accountName: 'conformance',
    resourceGroup: 'tests',
    credential: { token: { secret: 'compute/adla/token' } },
  },
  secrets: { 'compute/adla/token': 'conformance-secret-token' },
}));
