#!/usr/bin/env node
// Sluice benchmark (e): REST load on the published-pipeline server (@sluice/publish `serve`), against a plain
// node:http server measured in the same run. Every accepted submission's run must finish: "0 lost runs" is the
// goal; the throughput ratio is only reported. See tools/bench/README.md, "(e) REST load".
//
//   node tools/bench/serve-load.mjs [--quick]
//
// As a module: `measureServeLoad({ quick })` returns the rows of bench.mjs's table. Servers run in child
// processes on 127.0.0.1 only; the load generator (autocannon) runs in this process.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Pipeline, PipelineData, defineStep } from '@sluice/core';
import { Workspace } from '@sluice/runtime';
import { createSluiceClient, createToken, publishPipeline, serve } from '@sluice/publish';

const HOST = '127.0.0.1';
/** Runs the server executes at once (the handler's default). */
const SERVER_CONCURRENCY = 2;
/** How long, after the load stops, every accepted run gets to finish before it counts as lost. */
const DRAIN_MS = 120_000;
/** How long a child server gets to print its URL. */
const START_MS = 30_000;
/** The most unfinished runs asked about over HTTP (GET /runs/{id}) to say why they did not finish. */
const MAX_RUN_LOOKUPS = 200;
const TERMINAL = new Set(['Finished', 'Failed', 'Canceled']);

const log = (text = '') => process.stderr.write(`${text}\n`);
const progress = (text) => process.stderr.write(text);
const fmtMs = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`);
const fmtRatio = (ratio) => `${ratio < 1 ? ratio.toPrecision(2) : ratio.toFixed(ratio < 10 ? 2 : 1)}×`;
/** autocannon's latency histogram counts whole milliseconds: 0 means under 1 ms. */
const fmtLatency = (ms) => (ms < 1 ? '< 1 ms' : `${ms.toFixed(0)} ms`);
const fmtRate = (perSecond) => `${perSecond.toFixed(perSecond < 100 ? 1 : 0)}/s`;

// ---------------------------------------------------------------------------------------------------------
// the step kind: one cheap step, no process, one small output file

/**
 * A tiny step kind: writes the run id into a one-line `out.txt` in each output folder and finishes. No
 * process is started, so a run's cost is the server, the queue, the run store and the output commit.
 * It is registered in the server process by `runLoadServer` (a kind defined in code is not loaded from the
 * workspace config).
 */
export const loadStepPlugin = {
  type: 'step',
  kind: 'bench-load-touch',
  name: 'sluice-bench-serve-load',
  version: '1.0.0',
  coreRange: '^0.1.0',
  reuseVersion: '1',
  fingerprint: () => [],
  async execute(ctx) {
    for (const folder of Object.values(ctx.outputs)) {
      await writeFile(join(folder, 'out.txt'), `${ctx.runId}\n`);
    }
    return { status: 'Finished', exitCode: 0 };
  },
};

/** One step, reuse off: every accepted submission really executes its step and commits its output. */
function loadPipeline() {
  const out = new PipelineData('touched');
  const step = defineStep({
    kind: loadStepPlugin.kind,
    plugin: loadStepPlugin,
    name: 'touch',
    outputs: [out],
    allowReuse: false,
    config: {},
  });
  return new Pipeline({ name: 'bench-serve-load', description: 'bench (e): one cheap step', steps: [step] });
}

// ---------------------------------------------------------------------------------------------------------
// the child processes

/** Resolves when stdin ends: the parent closed it, or the parent is gone. */
function stdinEnded() {
  return new Promise((resolvePromise) => {
    process.stdin.once('end', resolvePromise);
    process.stdin.once('error', resolvePromise);
    process.stdin.resume();
  });
}

/**
 * The Sluice side's child process: opens the workspace, registers the step kind, serves the REST API on
 * 127.0.0.1 (free port), prints `{"url": …}` as one line and serves until its stdin ends.
 */
export async function runLoadServer(dir, concurrency = SERVER_CONCURRENCY) {
  const ws = Workspace.open(dir);
  ws.registry.use(loadStepPlugin);
  const server = await serve({ workspace: ws, port: 0, host: HOST, concurrency });
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  await stdinEnded();
  await server.close();
  await ws.close();
}

/** The baseline's child process: plain node:http; reads and parses the JSON body, answers 200 with a run entity of the server's shape. */
const BASELINE_SERVER = `
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const submission = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const id = submission.ExperimentName + '_20250101_000000_' + randomBytes(3).toString('hex');
    const url = 'http://' + req.headers.host + '/runs/' + id;
    const now = new Date().toISOString();
    const body = JSON.stringify({
      Id: id,
      Status: { StatusCode: 0, StatusDetail: 'Queued', CreationTime: now, EndTime: null },
      RunHistoryExperimentName: submission.ExperimentName, PipelineId: '00000000-0000-4000-8000-000000000000',
      RunSource: 'REST', Description: null, Tags: {}, tags: {}, Properties: {},
      ParameterAssignments: submission.ParameterAssignments ?? {}, CreatedDate: now,
      ExperimentName: submission.ExperimentName, Url: url,
    });
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      location: url,
      'content-length': String(Buffer.byteLength(body)),
    });
    res.end(body);
  });
});
server.listen(0, ${JSON.stringify(HOST)}, () => {
  process.stdout.write(JSON.stringify({ url: 'http://${HOST}:' + server.address().port }) + '\\n');
});
process.stdin.once('end', () => {
  server.close();
  server.closeAllConnections();
});
process.stdin.resume();
`;

/** Whether `promise` settles within `ms` (the timer is cleared either way, so it keeps nothing alive). */
async function within(promise, ms) {
  let timer;
  const timeout = new Promise((resolvePromise) => {
    timer = setTimeout(() => resolvePromise(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Start `node --input-type=module -e <script>` and wait (bounded) for its first stdout line, `{"url": …}`.
 * The child serves until its stdin ends, so it also ends when this process dies.
 */
async function startChild(label, script, children) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-8000);
  });
  child.stdin.on('error', () => undefined); // EPIPE when it died first
  const exited = new Promise((resolvePromise) => {
    if (child.exitCode !== null || child.signalCode !== null) resolvePromise();
    else child.once('exit', () => resolvePromise());
  });
  const line = await new Promise((resolvePromise, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(
      () => reject(new Error(`${label} did not print its URL within ${START_MS / 1000} s: ${stderr.trim()}`)),
      START_MS,
    );
    lines.once('line', (text) => {
      clearTimeout(timer);
      resolvePromise(text);
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code ?? signal}) before it listened: ${stderr.trim()}`));
    });
  });
  const { url } = JSON.parse(line);
  if (new URL(url).hostname !== HOST) throw new Error(`${label} listens on ${url}, not on ${HOST}`);
  return {
    url,
    stderr: () => stderr.trim(),
    /** Close its stdin (it shuts down), wait up to 15 s, then SIGKILL. */
    async stop() {
      child.stdin.end();
      if (!(await within(exited, 15_000))) {
        child.kill('SIGKILL');
        await within(exited, 5_000);
      }
      children.delete(child);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// load

/**
 * autocannon (programmatic) against `url`, POSTing `body`; every answer goes through `onAnswer(status,
 * body)`. Bounded: `duration` seconds (or `amount` requests), and stopped at the latest 30 s after that.
 */
async function load({ url, token, body, connections, duration, amount, onAnswer }) {
  const target = new URL(url);
  if (target.hostname !== HOST) throw new Error(`refusing to load ${url}: only ${HOST} is targeted`);
  const instance = autocannon({
    url,
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json',
    },
    body,
    connections,
    ...(amount ? { amount } : { duration }),
    timeout: 10,
    requests: [{ onResponse: (status, text) => onAnswer(status, text) }],
  });
  const guard = setTimeout(() => instance.stop(), ((amount ? 30 : duration) + 30) * 1000);
  try {
    return await instance;
  } finally {
    clearTimeout(guard);
  }
}

/** Collects the Ids of 200 answers; counts every status. */
function answerCollector() {
  const ids = [];
  const statuses = new Map();
  let unreadable = 0;
  return {
    ids,
    statuses,
    get unreadable() {
      return unreadable;
    },
    onAnswer(status, text) {
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status !== 200) return;
      try {
        const id = JSON.parse(text).Id;
        if (typeof id === 'string' && id) ids.push(id);
        else unreadable += 1;
      } catch {
        unreadable += 1;
      }
    },
  };
}

/**
 * Poll the run store until every id's run has ended, or until `deadlineMs` (performance.now()) passes.
 * The queue starts runs oldest first, so the ids are walked in order with a cursor that only moves past a
 * run that has ended: each poll reads the runs that ended since the last one, not all of them (the polling
 * shares the cores with the server it waits for).
 */
async function waitForRuns(ws, ids, deadlineMs, { dots = false } = {}) {
  const ended = new Map();
  const every = Math.max(1, Math.ceil(ids.length / 20));
  let cursor = 0;
  let shown = 0;
  for (;;) {
    while (cursor < ids.length) {
      const status = ws.store.getRun(ids[cursor])?.status;
      if (!status || !TERMINAL.has(status)) break;
      ended.set(ids[cursor], status);
      cursor += 1;
    }
    while (dots && cursor >= (shown + 1) * every) {
      shown += 1;
      progress('.');
    }
    if (cursor === ids.length || performance.now() >= deadlineMs) {
      const pending = [];
      for (const id of ids.slice(cursor)) {
        const status = ws.store.getRun(id)?.status;
        if (status && TERMINAL.has(status)) ended.set(id, status);
        else pending.push(id);
      }
      return { ended, pending };
    }
    await sleep(250);
  }
}

// ---------------------------------------------------------------------------------------------------------
// the measurement

/**
 * (e) REST load: `connections` connections POST a submission for `duration` s to a published one-step
 * pipeline served in a child process; then every accepted Id must finish. The same load against a plain
 * node:http server (a child process too) is the baseline. Returns the table rows (one, id 'e').
 */
export async function measureServeLoad({ quick = false } = {}) {
  const connections = 10;
  const duration = quick ? 2 : 10;
  const warmup = quick ? 20 : 50;
  log(
    `\n(e) REST load: ${connections} connections × ${duration} s of POST /pipelines/<id> (one cheap step, ` +
      `server concurrency ${SERVER_CONCURRENCY}) vs plain node:http, then every accepted run must finish`,
  );

  const root = mkdtempSync(join(tmpdir(), 'sluice-serve-load-'));
  const children = new Set();
  // last resort (process.exit while measuring, e.g. bench.mjs's Ctrl-C handler): kill the children, remove data
  const onExit = () => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  };
  process.once('exit', onExit);
  let ws;
  let server;
  let baseline;
  try {
    // -- the workspace: publish the pipeline, make a token ---------------------------------------------------
    ws = Workspace.create(join(root, 'ws'), { name: 'bench-serve-load' });
    ws.registry.use(loadStepPlugin);
    const published = await publishPipeline(ws, loadPipeline(), { name: 'bench-serve-load', version: '1' });
    const { token } = createToken(ws, { scope: 'submit', description: 'bench (e)' });
    const submission = (experiment) =>
      JSON.stringify({ ExperimentName: experiment, ParameterAssignments: {} });

    // -- baseline: plain node:http in a child process ----------------------------------------------------------
    baseline = await startChild('the baseline server', BASELINE_SERVER, children);
    const baseTarget = `${baseline.url}${published.endpoint}`;
    await load({
      url: baseTarget,
      token,
      body: submission('warmup'),
      connections: 2,
      amount: warmup,
      onAnswer: () => undefined,
    });
    const baseAnswers = answerCollector();
    progress(`  baseline (node:http, ${baseline.url}): `);
    const base = await load({
      url: baseTarget,
      token,
      body: submission('load'),
      connections,
      duration,
      onAnswer: baseAnswers.onAnswer,
    });
    const baseRate = base['2xx'] / base.duration;
    log(
      `${base['2xx']} answered 200 in ${base.duration.toFixed(2)} s = ${fmtRate(baseRate)}, p99 ` +
        `${fmtLatency(base.latency.p99)}, ${base.non2xx} non-2xx, ${base.errors} errors`,
    );
    await baseline.stop();
    baseline = undefined;

    // -- Sluice: the REST server in a child process --------------------------------------------------------
    const serverScript =
      `import { runLoadServer } from ${JSON.stringify(import.meta.url)};\n` +
      `await runLoadServer(${JSON.stringify(ws.dir)}, ${SERVER_CONCURRENCY});\n`;
    server = await startChild('the Sluice server', serverScript, children);
    const target = `${server.url}${published.endpoint}`;
    // warm-up: a few submissions, all run to the end, so the measured load starts on an empty queue
    const warm = answerCollector();
    await load({
      url: target,
      token,
      body: submission('warmup'),
      connections: 2,
      amount: warmup,
      onAnswer: warm.onAnswer,
    });
    const warmed = await waitForRuns(ws, warm.ids, performance.now() + 60_000);
    const warmFinished = [...warmed.ended.values()].filter((status) => status === 'Finished').length;
    if (warm.ids.length === 0 || warmFinished !== warm.ids.length) {
      throw new Error(
        `the warm-up failed: ${warm.ids.length}/${warmup} accepted, ${warmFinished} finished ` +
          `(answers: ${[...warm.statuses].map(([s, n]) => `${n}× ${s}`).join(', ')}); server log: ${server.stderr()}`,
      );
    }

    const answers = answerCollector();
    progress(`  Sluice (${server.url}): `);
    const loadStarted = performance.now();
    const result = await load({
      url: target,
      token,
      body: submission('load'),
      connections,
      duration,
      onAnswer: answers.onAnswer,
    });
    const loadEnded = performance.now();
    const { ids } = answers;
    const rate = ids.length / result.duration;
    log(
      `${ids.length} accepted in ${result.duration.toFixed(2)} s = ${fmtRate(rate)}, p99 ` +
        `${fmtLatency(result.latency.p99)}, ${result.non2xx} non-2xx, ${result.errors} errors`,
    );

    // -- every accepted Id must finish -------------------------------------------------------------------------
    const unique = new Set(ids);
    const duplicates = ids.length - unique.size;
    progress(`  waiting for the ${unique.size} accepted runs to finish (at most ${DRAIN_MS / 1000} s) `);
    const { ended, pending } = await waitForRuns(ws, [...unique], loadEnded + DRAIN_MS, { dots: true });
    const drainMs = performance.now() - loadEnded;
    const finished = [...ended.values()].filter((status) => status === 'Finished').length;
    log(` ${finished} finished, ${unique.size - finished} not, ${fmtMs(drainMs)} after the load stopped`);

    // why the others did not finish: ask the server (GET /runs/{id}), a bounded number of them
    const reasons = new Map();
    const count = (reason) => reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    for (const [, status] of ended) if (status !== 'Finished') count(status);
    const client = createSluiceClient({ baseUrl: server.url, token });
    let looked = 0;
    for (const id of pending) {
      if (looked++ >= MAX_RUN_LOOKUPS) {
        count('not finished, not looked up');
        continue;
      }
      try {
        const run = await client.getRun(id);
        count(`still ${run.Status.StatusDetail}${run.ResumedAs ? ` (resumed as ${run.ResumedAs})` : ''}`);
      } catch (error) {
        count(
          error?.code === 'RUN_NOT_FOUND'
            ? 'does not exist (RUN_NOT_FOUND)'
            : `lookup failed: ${error?.code}`,
        );
      }
    }
    const lost = unique.size - finished;

    // runs the server accepted whose answer autocannon cut off when it stopped (not in `ids`; not lost)
    const stored = ws.store.listRuns({ experiment: 'load', limit: 1_000_000 });
    const unanswered = stored.filter((run) => !unique.has(run.id)).length;
    // spot check: the first and last accepted runs executed their step (no reuse)
    const executed = [ids[0], ids.at(-1)]
      .filter(Boolean)
      .every((id) => ws.store.getStepRuns(id).some((step) => step.status === 'Finished'));

    const codes = [...answers.statuses]
      .filter(([status]) => status !== 200)
      .map(([status, n]) => `${n}× ${status}`);
    const serverLog = server.stderr();
    const problems = [
      lost ? `${lost} lost: ${[...reasons].map(([reason, n]) => `${n}× ${reason}`).join(', ')}` : undefined,
      duplicates ? `${duplicates} duplicate Ids` : undefined,
      answers.unreadable ? `${answers.unreadable} 200 answers without an Id` : undefined,
      codes.length ? `non-2xx: ${codes.join(', ')}` : undefined,
      result.errors || result.timeouts
        ? `${result.errors} connection errors, ${result.timeouts} timeouts`
        : undefined,
      executed ? undefined : 'a spot-checked run did not execute its step',
      serverLog ? `server stderr: ${serverLog.slice(0, 300)}` : undefined,
    ].filter(Boolean);
    const drainRate = unique.size / ((loadEnded - loadStarted + drainMs) / 1000);

    return [
      {
        id: 'e',
        what: `REST submissions, ${connections} conns × ${duration} s, one-step runs (accepted/s)`,
        sluice: `${fmtRate(rate)}, p99 ${fmtLatency(result.latency.p99)}, ${lost} lost of ${unique.size}`,
        baseline: `${fmtRate(baseRate)}, p99 ${fmtLatency(base.latency.p99)} (node:http 200)`,
        ratio: fmtRatio(rate / baseRate),
        goal: '0 lost runs',
        ok: unique.size > 0 && lost === 0 && duplicates === 0 && executed,
        note:
          `ratio = Sluice accepted/s ÷ baseline requests/s (both 2xx only); p50 ${fmtLatency(result.latency.p50)} ` +
          `vs ${fmtLatency(base.latency.p50)}; non-2xx ${result.non2xx} vs ${base.non2xx}; ` +
          `all ${finished} finished runs done ${fmtMs(drainMs)} after the load stopped ` +
          `(≈ ${drainRate.toFixed(1)} runs/s end to end at concurrency ${SERVER_CONCURRENCY})` +
          (unanswered ? `; ${unanswered} more accepted whose answers autocannon cut off at the stop` : '') +
          (problems.length ? `; ${problems.join('; ')}` : ''),
      },
    ];
  } finally {
    await Promise.allSettled([server?.stop(), baseline?.stop()]);
    for (const child of children) child.kill('SIGKILL');
    await ws?.close().catch(() => undefined);
    rmSync(root, { recursive: true, force: true, maxRetries: 3 });
    process.off('exit', onExit);
  }
}

// ---------------------------------------------------------------------------------------------------------
// run directly: node tools/bench/serve-load.mjs [--quick]

function printTable(results) {
  const header = ['#', 'Measurement', 'Sluice', 'Baseline (same run)', 'Ratio', 'Goal', ''];
  const rows = results.map((r) => [r.id, r.what, r.sluice, r.baseline, r.ratio, r.goal, r.ok ? '✓' : '✗']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  console.log('');
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
  const notes = results.filter((r) => r.note);
  if (notes.length) {
    console.log('');
    for (const r of notes) console.log(`- ${r.id}: ${r.note}`);
  }
}

async function main(argv) {
  const unknown = argv.filter((arg) => arg !== '--quick');
  if (unknown.length) {
    console.error(
      `serve-load: unknown argument ${unknown[0]}\nusage: node tools/bench/serve-load.mjs [--quick]`,
    );
    process.exitCode = 2;
    return;
  }
  const quick = argv.includes('--quick');
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
  const load = loadavg()[0];
  log(`Sluice bench (e)${quick ? ' (quick)' : ''}: node ${process.version}`);
  if (load > availableParallelism() * 0.5) {
    log(`WARNING: the 1-minute load average is ${load.toFixed(2)}: other work will skew the numbers`);
  }
  try {
    printTable(await measureServeLoad({ quick }));
    console.log(
      `\nnode ${process.version}, ${availableParallelism()} cores, 1-minute load average ${load.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after`,
    );
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
