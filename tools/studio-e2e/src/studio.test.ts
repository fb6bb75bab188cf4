import type { RunList, RunSummary } from '@sluice/publish';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot, signIn, startStudio, type Studio } from './harness.js';

let studio: Studio;
let browser: Browser;
let runs: RunSummary[];

/** The iris runs, oldest first: all ran, all reused, learning_rate changed. */
const irisRuns = (): RunSummary[] => runs.filter((run) => run.experiment === 'iris').reverse();

beforeAll(async () => {
  studio = await startStudio();
  browser = await launchChromium();
  runs = (await studio.api<RunList>('/runs')).runs;
});

afterAll(async () => {
  await browser?.close();
  await studio?.stop();
});

/** A fresh page (its own cookies) signed in with `token`. */
async function signedIn(token: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await signIn(page, studio.url, token);
  return page;
}

describe('the studio in Chromium against a real sluice serve', () => {
  it('refuses a request without a token, and shows the sign-in form', async () => {
    const response = await fetch(`${studio.url}/runs`);
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('AUTH_REQUIRED');

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${studio.url}/`);
    await page.getByTestId('signin-form').waitFor();
    // a wrong token is refused with a readable message, and the runs stay hidden
    await page.getByTestId('signin-form').locator('input').fill('not-a-token');
    await page.getByTestId('signin-form').locator('button').first().click();
    await expect.poll(() => page.getByTestId('signin-form').textContent()).toMatch(/token/i);
    expect(await page.getByTestId('runs-table').count()).toBe(0);
    await context.close();
  });

  it('lists the runs, newest first, with what ran, was reused and failed', async () => {
    const page = await signedIn(studio.readToken);
    const rows = page.getByTestId('run-row');
    await expect.poll(() => rows.count()).toBe(runs.length);
    expect(runs.length).toBe(5);
    // newest first: the failed run was submitted last
    await expect.poll(() => rows.first().textContent()).toMatch(/Failed/);
    const [first, second, third] = irisRuns();
    expect(first!.steps).toMatchObject({ ran: 3, reused: 0 });
    expect(second!.steps).toMatchObject({ ran: 0, reused: 3 });
    expect(third!.steps).toMatchObject({ ran: 2, reused: 1 });
    await expect.poll(() => page.getByTestId('runs-table').textContent()).toContain(second!.id);
    await screenshot(page, 'runs');
    await page.context().close();
  });

  it('draws a run as a graph: statuses, and the reused step linked to the run it came from', async () => {
    const [first, , third] = irisRuns();
    const page = await signedIn(studio.readToken);
    await page.goto(`${studio.url}/#/runs/${third!.id}`);
    await page.getByTestId('graph').waitFor();
    const status = (step: string) => page.getByTestId(`node-${step}`).getAttribute('data-status');
    await expect.poll(() => status('prepare')).toBe('Reused');
    await expect.poll(() => status('train')).toBe('Finished');
    await expect.poll(() => status('compare')).toBe('Finished');
    expect(await page.getByTestId('node-prepare').locator(`a[href*="${first!.id}"]`).count()).toBeGreaterThan(
      0,
    );
    await page.getByTestId('timeline').waitFor();
    await screenshot(page, 'run');
    await page.context().close();
  });

  it("opens a failed step's stderr", async () => {
    const failed = runs.find((run) => run.status === 'Failed')!;
    const page = await signedIn(studio.readToken);
    await page.goto(`${studio.url}/#/runs/${failed.id}`);
    await expect.poll(() => page.getByTestId('node-check').getAttribute('data-status')).toBe('Failed');
    await expect.poll(() => page.getByTestId('node-make').getAttribute('data-status')).toBe('Finished');
    await page.getByTestId('node-check').click();
    const panel = page.getByTestId('step-panel');
    await panel.waitFor();
    await panel.getByRole('tab', { name: /^stderr/ }).click();
    await expect
      .poll(() => panel.getByTestId('log-view').textContent())
      .toContain("the column 'species' has 3 classes");
    // search within the log
    await panel.getByTestId('log-search').fill('species');
    await expect.poll(() => panel.locator('mark').count()).toBeGreaterThan(0);
    await screenshot(page, 'step');
    await page.context().close();
  });

  it('shows the end of a 100 MiB log without loading it whole', async () => {
    const loud = runs.find((run) => run.experiment === 'loud')!;
    const page = await signedIn(studio.readToken);
    await page.goto(`${studio.url}/#/runs/${loud.id}`);
    await page.getByTestId('node-talk').click();
    const panel = page.getByTestId('step-panel');
    await expect
      .poll(() => panel.getByTestId('log-view').textContent())
      .toContain('the last line of a long log');
    await expect.poll(() => panel.textContent()).toMatch(/of 100(\.0)? MiB loaded/);
    // the page fetched a few hundred KiB of the log, not 100 MiB
    const fetched = await page.evaluate(() =>
      performance
        .getEntriesByType('resource')
        .filter((entry) => entry.name.includes('/logs/'))
        .reduce((sum, entry) => sum + (entry as unknown as { encodedBodySize: number }).encodedBodySize, 0),
    );
    expect(fetched).toBeGreaterThan(0);
    expect(fetched).toBeLessThan(2 * 2 ** 20);
    // the download link serves the whole log
    const href = await panel.getByRole('link', { name: 'Download' }).getAttribute('href');
    const whole = await fetch(new URL(href!, `${studio.url}/`), {
      headers: { authorization: `Bearer ${studio.readToken}` },
    });
    expect(Number(whole.headers.get('content-length') ?? (await whole.arrayBuffer()).byteLength)).toBe(
      100 * 2 ** 20 + 'the last line of a long log\n'.length,
    );
    await whole.body?.cancel();
    await page.context().close();
  });

  it('says why a step re-ran, with the earlier run linked', async () => {
    const [, second, third] = irisRuns();
    const page = await signedIn(studio.readToken);
    await page.goto(`${studio.url}/#/runs/${third!.id}`);
    await page.getByTestId('node-train').click();
    const why = page.getByTestId('step-panel').getByTestId('explanation');
    await expect.poll(() => why.textContent()).toMatch(/learning_rate.*0\.1.*0\.5/);
    expect(await why.locator(`a[href*="${second!.id}"]`).count()).toBeGreaterThan(0);
    await page.context().close();
  });

  it('submits a published pipeline from its form and watches the new run finish live', async () => {
    const page = await signedIn(studio.submitToken);
    await page.goto(`${studio.url}/#/pipelines`);
    const form = page.getByTestId('submit-form').first();
    await form.waitFor();
    await form.getByLabel('label').fill('from-the-studio');
    await form.getByTestId('submit-button').click();
    // the studio goes to the new run and follows it over server-sent events, with no reload
    await page.waitForURL(/#\/runs\//);
    const id = /#\/runs\/([^/?]+)/.exec(page.url())![1]!;
    await expect
      .poll(() => page.getByTestId('node-first').getAttribute('data-status'), { timeout: 60_000 })
      .toMatch(/Running|Finished/);
    await expect
      .poll(() => page.getByTestId('node-second').getAttribute('data-status'), { timeout: 60_000 })
      .toBe('Finished');
    const run = await studio.api<{ status: string; parameters: Record<string, unknown> }>(
      `/runs/${id}/detail`,
    );
    expect(run.status).toBe('Finished');
    expect(run.parameters.label).toBe('from-the-studio');
    await screenshot(page, 'submitted');
    await page.context().close();
  });

  it('does not let a read token submit', async () => {
    const page = await signedIn(studio.readToken);
    await page.goto(`${studio.url}/#/pipelines`);
    await page.getByRole('heading', { name: 'Published pipelines' }).waitFor();
    await expect
      .poll(() => page.locator('main, body').first().textContent())
      .toContain('two steps that take their time');
    // a read session is offered no form, and the server refuses a submission made with its cookie anyway
    expect(await page.getByTestId('submit-form').count()).toBe(0);
    const before = (await studio.api<RunList>('/runs')).runs.length;
    const [pipeline] = await studio.api<Array<{ Id: string }>>('/pipelines');
    const answer = await page.evaluate(async (id) => {
      const response = await fetch(`/pipelines/${id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-sluice-studio': '1' },
        body: '{}',
      });
      return { status: response.status, body: (await response.json()) as { error: { code: string } } };
    }, pipeline!.Id);
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe('AUTH_FORBIDDEN');
    expect((await studio.api<RunList>('/runs')).runs.length).toBe(before);
    await page.context().close();
  });
});
