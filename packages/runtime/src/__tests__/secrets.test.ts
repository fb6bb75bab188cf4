import { Environment, Pipeline, RunConfiguration, defineStep, type StepKindPlugin } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { Experiment, LocalComputeTarget, Workspace } from '../index.js';
import { SecretMask } from '../secrets.js';
import { tempDir } from './fixtures.js';

/** Everything a stream masker passes on for these chunks, then what it holds at the end. */
function throughStream(mask: SecretMask, chunks: string[]): { parts: string[]; all: string } {
  const stream = mask.stream();
  const parts = chunks.map((chunk) => stream.write(chunk).toString());
  parts.push(stream.end().toString());
  return { parts, all: parts.join('') };
}

describe('secret masking', () => {
  const mask = new SecretMask();
  mask.add(['hunter2-secret', 'abc', '']);

  it('masks values in text, longer values first', () => {
    expect(mask.text('pw=hunter2-secret, short=abc, none=ab')).toBe('pw=***, short=***, none=ab');
  });

  it('masks a value split across chunks, holding back only what could start one', () => {
    const { parts, all } = throughStream(mask, ['token: hunt', 'er2-sec', 'ret done\n']);
    expect(all).toBe('token: *** done\n');
    expect(parts[0]).toBe('token: ');
    expect(parts.join('')).not.toContain('hunter2');
  });

  it('passes on what turned out not to be a secret, at the end at the latest', () => {
    expect(throughStream(mask, ['ends with hunter2-', 'nothing more']).all).toBe(
      'ends with hunter2-nothing more',
    );
    expect(throughStream(mask, ['last: ab']).parts).toEqual(['last: ', 'ab']);
    expect(throughStream(new SecretMask(), ['plain', ' text']).parts).toEqual(['plain', ' text', '']);
  });
});

describe('secrets and step processes', () => {
  it('never passes the runner’s SLUICE_SECRET_* variables to a local process', async () => {
    let printed = '';
    const result = await new LocalComputeTarget('cpu').runProcess(
      {
        command: process.execPath,
        args: ['-e', 'process.stdout.write(JSON.stringify(Object.keys(process.env)))'],
        cwd: tempDir(),
        env: { SLUICE_SECRET_TOKEN: 'leak', KEPT: '1' },
      },
      { onStdout: (chunk) => (printed += chunk.toString()) },
    );
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(printed)).toContain('KEPT');
    expect(JSON.parse(printed)).not.toContain('SLUICE_SECRET_TOKEN');
  });

  it('masks a secret in the error a step fails with', async () => {
    const leaky: StepKindPlugin<null> = {
      type: 'step',
      kind: 'leaky',
      name: 'runtime-tests',
      version: '1.0.0',
      coreRange: '^0.1.0',
      reuseVersion: '1',
      fingerprint: () => [],
      execute: async (context) => {
        context.logs.info(`using ${context.env.TOKEN}`);
        throw new Error(`the service refused token ${context.env.TOKEN}`);
      },
    };
    const ws = Workspace.create(tempDir());
    ws.setSecret('service-token', 'tok-91f3e2');
    const step = defineStep({
      kind: 'leaky',
      plugin: leaky,
      name: 'call',
      runConfig: new RunConfiguration({
        environment: new Environment({ name: 'svc', secretEnvironmentVariables: { TOKEN: 'service-token' } }),
      }),
      config: null,
    });
    const run = await new Experiment(ws, 'leaky').submit(new Pipeline({ name: 'leaky', steps: [step] }));
    expect(await run.waitForCompletion({ raiseOnError: false })).toBe('Failed');
    const record = run.findStepRun('call');
    expect(record.record.error).toBe('the service refused token ***');
    expect(await record.getSluiceLog()).toContain('using ***');
    expect(await record.getSluiceLog()).not.toContain('tok-91f3e2');
    await ws.close();
  });
});
