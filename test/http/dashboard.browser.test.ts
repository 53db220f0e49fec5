/**
 * The admin dashboard and the example CRM in a real browser: Debian's Chromium driven by playwright-core
 * (Playwright's own browser download does not work here). The example app (examples/express-crm) runs in this
 * process on a random port, on SQLite in memory, so the test reads its database directly.
 *
 * Without Chromium (CHROMIUM_PATH, default /usr/bin/chromium) the suite is skipped with a notice, unless CI or
 * PRIVACY_TEST_REQUIRE_ALL=1, where it fails. UPDATE_SCREENSHOTS=1 writes the screenshots to docs/images/
 * (dashboard.png, contact-page.png); otherwise they go to a temporary folder.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, type Download, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCrmApp, type Crm } from '../../examples/express-crm/app.js';
import { Activity, Consent, Contact, Deal, Invoice } from '../../examples/express-crm/entities.js';
import { readZip } from '../support/archive.js';
import { createTestLogger } from '../support/test-logger.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const REQUIRED = ['1', 'true', 'yes'].includes((process.env.PRIVACY_TEST_REQUIRE_ALL ?? '').trim().toLowerCase()) || Boolean(process.env.CI);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const VIEWPORT = { width: 1366, height: 768 };

if (!existsSync(CHROMIUM)) {
  const reason = `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
  if (REQUIRED) {
    describe('dashboard in a browser', () => {
      it('needs Chromium', () => {
        throw new Error(`[privacy-engine tests] CI / PRIVACY_TEST_REQUIRE_ALL=1 but ${reason}`);
      });
    });
  } else {
    console.warn(`[privacy-engine tests] SKIPPING the browser tests: ${reason}`);
    describe.skip(`dashboard in a browser SKIPPED: ${reason}`, () => {
      it('walks through the dashboard', () => {});
    });
  }
} else {
  describe('dashboard in a browser (example CRM on SQLite)', () => {
    let crm: Crm;
    let server: Server;
    let base: string;
    let browser: Browser;
    let storage: string;
    let shots: string;

    beforeAll(async () => {
      storage = await mkdtemp(path.join(os.tmpdir(), 'pe-browser-'));
      shots = process.env.UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs/images') : path.join(storage, 'screenshots');
      await mkdir(shots, { recursive: true });
      crm = await createCrmApp({ database: { type: 'better-sqlite3', database: ':memory:' }, storageDirectory: path.join(storage, 'archives'), logger: createTestLogger() });
      server = await new Promise<Server>((resolve) => {
        const s = crm.app.listen(0, '127.0.0.1', () => resolve(s));
      });
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] });
    });

    afterAll(async () => {
      await browser?.close();
      if (server) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
      await crm?.close();
      await rm(storage, { recursive: true, force: true });
    });

    const contactByEmail = (email: string) => crm.dataSource.getRepository(Contact).findOneOrFail({ where: { email }, withDeleted: true });

    async function signIn(context: BrowserContext, who: string | { contactId: number }): Promise<Page> {
      const page = await context.newPage();
      // Fail the test on any script error or CSP violation in the page.
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) problems.push(message.text());
      });
      (page as Page & { problems?: string[] }).problems = problems;
      await page.goto(`${base}/login`);
      if (typeof who === 'string') await page.getByRole('button', { name: new RegExp(`^${who}`) }).click();
      else {
        await page.getByLabel('Contact', { exact: true }).selectOption(`contact:${who.contactId}`);
        await page.getByRole('button', { name: 'Sign in as this contact' }).click();
      }
      await page.waitForURL(/\/(contacts|me)$/);
      return page;
    }
    const problemsOf = (page: Page) => (page as Page & { problems?: string[] }).problems ?? [];

    async function zipOf(download: Download): Promise<Map<string, string>> {
      const file = await download.path();
      return readZip(await readFile(file));
    }

    const rowOf = (page: Page, type: string, subjectText: string | RegExp) => page.locator(`#request-rows tr[data-type="${type}"]`).filter({ hasText: subjectText }).first();

    let admin: BrowserContext;
    let adminPage: Page;

    it('an admin submits an export on the dashboard, the progress bar reaches 100%, and the downloaded ZIP holds every file of that contact only', async () => {
      admin = await browser.newContext({ viewport: VIEWPORT, acceptDownloads: true });
      adminPage = await signIn(admin, 'Alice Martin');
      const page = adminPage;
      const astrid = await contactByEmail('astrid.lindqvist@bergstrom-logistik.se');

      await page.goto(`${base}/privacy/dashboard`);
      await expect(page.getByRole('heading', { name: 'Privacy requests' }).isVisible()).resolves.toBe(true);
      await page.getByRole('heading', { name: 'New request' }).waitFor();
      await page.getByLabel('Subject id').fill(String(astrid.id));
      await page.getByLabel('Request', { exact: true }).selectOption('export');
      await page.getByRole('button', { name: 'Submit…' }).click();

      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      expect(await dialog.locator('#confirm-message').textContent()).toBe(
        'This will generate a complete data export for Astrid Lindqvist including all related records. Continue?',
      );
      await dialog.getByRole('button', { name: 'Export' }).click();

      const row = rowOf(page, 'export', 'Astrid Lindqvist');
      const bar = row.locator('progress');
      await bar.waitFor();
      // The page refreshes itself while the request runs: no reload here.
      await expect.poll(() => bar.getAttribute('value'), { timeout: 30_000 }).toBe('100');
      expect(await row.locator('.percent').textContent()).toBe('100%');
      await expect.poll(() => row.locator('.badge').first().textContent()).toBe('Completed');
      expect(await row.locator('.artifact').textContent()).toBe('Archive: Ready');
      expect(await row.locator('.requested-by').textContent()).toBe('alice.martin');

      const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: /^Download export request for Astrid Lindqvist/ }).click()]);
      expect(download.suggestedFilename()).toMatch(/\.zip$/);
      const files = await zipOf(download);
      const categories = ['profile', 'company', 'activities', 'tickets', 'deals', 'invoices', 'consents', 'audit-log'];
      expect([...files.keys()].sort()).toEqual(
        ['README.md', 'summary.csv', 'summary.json', ...categories.flatMap((c) => [`categories/${c}.csv`, `categories/${c}.json`])].sort(),
      );
      const summary = JSON.parse(files.get('summary.json')!);
      expect(summary.meta.subject).toMatchObject({ type: 'Contact', id: String(astrid.id), displayName: 'Astrid Lindqvist' });
      const activities = await crm.dataSource.getRepository(Activity).countBy({ contact: { id: astrid.id } });
      expect(summary.meta.counts.activities).toBe(activities);
      expect(summary.meta.counts.consents).toBe(await crm.dataSource.getRepository(Consent).countBy({ contact: { id: astrid.id } }));
      // Only Astrid's data: no other contact's email appears anywhere in the archive.
      const others = (await crm.dataSource.getRepository(Contact).find()).filter((c) => c.id !== astrid.id).map((c) => c.email);
      for (const [name, text] of files) for (const email of others) expect(text.includes(email), `${email} in ${name}`).toBe(false);

      // The dashboard notices the download on its next refresh.
      await expect.poll(() => row.locator('.artifact').textContent(), { timeout: 40_000 }).toBe('Archive: Downloaded');
      expect(problemsOf(page)).toEqual([]);
    });

    it('an admin anonymizes a contact from the Contact page and restores it from the dashboard: the rows change, then come back exactly', async () => {
      const page = adminPage;
      const maya = await contactByEmail('maya.okafor@harborpine.com');
      const snapshot = async () => ({
        contact: await crm.dataSource.getRepository(Contact).findOneOrFail({ where: { id: maya.id }, withDeleted: true }),
        activities: await crm.dataSource.getRepository(Activity).find({ where: { contact: { id: maya.id } }, order: { id: 'ASC' }, withDeleted: true }),
        deals: await crm.dataSource.getRepository(Deal).find({ where: { primaryContact: { id: maya.id } }, order: { id: 'ASC' } }),
        invoices: await crm.dataSource.getRepository(Invoice).find({ where: { deal: { primaryContact: { id: maya.id } } }, order: { id: 'ASC' } }),
      });
      const before = await snapshot();
      expect(before.activities.length).toBeGreaterThan(0);
      expect(before.invoices.length).toBeGreaterThan(0);

      await page.goto(`${base}/contacts/${maya.id}`);
      await page.getByText('Actions', { exact: true }).click();
      await page.getByRole('button', { name: 'Anonymize' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      expect(await dialog.locator('#crm-confirm-message').textContent()).toContain('This will anonymize Maya Okafor');
      await dialog.getByRole('button', { name: 'Anonymize' }).click();
      await page.getByText('Maya Okafor was anonymized.').waitFor({ timeout: 30_000 });

      const anonymized = await snapshot();
      expect(anonymized.contact.email).toMatch(/^redacted-.*@redacted\.invalid$/);
      expect(anonymized.contact.firstName).not.toBe('Maya');
      expect(anonymized.contact.city).toBeNull();
      expect(anonymized.activities.map((a) => a.body)).not.toEqual(before.activities.map((a) => a.body));
      expect(anonymized.activities.every((a, i) => a.body !== before.activities[i].body)).toBe(true);
      expect(anonymized.invoices).toEqual(before.invoices); // retained under tax law

      await page.goto(`${base}/privacy/dashboard`);
      const row = rowOf(page, 'anonymize', `Contact #${maya.id} (anonymized)`);
      await expect.poll(() => row.locator('.badge').first().textContent()).toBe('Completed');
      await row.getByRole('button', { name: /^Details/ }).click();
      const details = page.locator(`#details-${await row.getAttribute('data-request-id')}`);
      const retained = details.locator('table.retained');
      await retained.waitFor();
      const retainedText = await retained.textContent();
      expect(retainedText).toContain('invoices');
      expect(retainedText).toContain('Tax law: 10 years');
      expect(retainedText).toContain('Proof of consent (GDPR Art. 7(1)): 3 years');

      await row.getByRole('button', { name: /^Restore/ }).click();
      await dialog.waitFor();
      expect(await dialog.locator('#confirm-message').textContent()).toMatch(/^This will restore the personal data of Contact #\d+ \(anonymized\) that this anonymize request erased/);
      await dialog.getByRole('button', { name: 'Restore' }).click();
      const restoreRow = rowOf(page, 'restore', 'Maya Okafor');
      await expect.poll(() => restoreRow.locator('.badge').first().textContent(), { timeout: 30_000 }).toBe('Completed');

      expect(await snapshot()).toEqual(before);
      // The undone anonymize no longer offers Restore or Purge.
      await expect.poll(() => row.getByRole('button', { name: /^(Restore|Purge)/ }).count()).toBe(0);
      expect(problemsOf(page)).toEqual([]);
    });

    it('the dashboard filters by status and type, and shows the screenshots the docs use', async () => {
      const page = adminPage;
      // A few more requests, so the table shows the kinds of rows admins see.
      for (const email of ['siobhan.oconnell@kestrel-analytics.ie', 'camille.dubois@cafelumiere.fr']) {
        const contact = await contactByEmail(email);
        await crm.engine.waitForRequest((await crm.engine.export({ subjectId: contact.id, actor: { id: 'alice.martin', roles: ['admin'], tenantId: 'northwind' } })).id);
      }
      const liam = await contactByEmail('liam.byrne@kestrel-analytics.ie');
      const deletion = await crm.engine.waitForRequest((await crm.engine.delete({ subjectId: liam.id, actor: { id: 'alice.martin', roles: ['admin'], tenantId: 'northwind' } })).id);

      await page.goto(`${base}/privacy/dashboard`);
      await rowOf(page, 'delete', 'Liam Byrne (deleted)').waitFor();
      // Keyboard: a skip link first, then the form's first field, each with a visible focus ring.
      // The callback runs in the page (the DOM types are not in this project's lib).
      const focused = () =>
        page.evaluate(() => {
          const { document, getComputedStyle } = globalThis as any;
          const el = document.activeElement;
          return { text: el?.textContent, id: el?.id, outline: getComputedStyle(el).outlineStyle };
        });
      await page.keyboard.press('Tab');
      expect(await focused()).toMatchObject({ text: 'Skip to the requests', outline: 'solid' });
      await page.keyboard.press('Tab');
      expect(await focused()).toMatchObject({ id: 'new-subject', outline: 'solid' });

      const types = async () => page.locator('#request-rows tr[data-type]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-type')));
      expect(new Set(await types())).toEqual(new Set(['export', 'anonymize', 'restore', 'delete']));

      // Purge inside the recovery window: the confirmation says it ends the window early, then Liam's hidden rows go for good.
      expect(await crm.dataSource.getRepository(Activity).count({ where: { contact: { id: liam.id } }, withDeleted: true })).toBeGreaterThan(0);
      // Rows by id: once purged, the contact's name is gone from the database, and from the table.
      const deleteRow = page.locator(`#request-rows tr[data-request-id="${deletion.id}"]`);
      await deleteRow.getByRole('button', { name: /^Purge/ }).click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      expect(await dialog.locator('#confirm-message').textContent()).toMatch(/^This will permanently destroy the recovery data of Liam Byrne \(deleted\): .* The recovery window is still open until .*: purging now ends it early\. This cannot be undone\. Continue\?$/);
      await dialog.getByRole('button', { name: 'Purge' }).click();
      await expect.poll(() => page.locator('#request-rows tr[data-type="purge"] .badge').first().textContent(), { timeout: 30_000 }).toBe('Completed');
      await expect.poll(() => deleteRow.locator('.status').textContent()).toContain('Purged');
      expect(await deleteRow.getByRole('button', { name: /^(Restore|Purge)/ }).count()).toBe(0);
      expect(await crm.dataSource.getRepository(Activity).count({ where: { contact: { id: liam.id } }, withDeleted: true })).toBe(0);

      await page.getByLabel('Type').selectOption('export');
      await expect.poll(async () => [...new Set(await types())]).toEqual(['export']);
      expect(await page.locator('#request-rows tr[data-type]').count()).toBe(3);
      await page.getByLabel('Type').selectOption('');
      await page.getByLabel('Status').selectOption('failed');
      await page.locator('#empty').waitFor({ state: 'visible' });
      await page.getByLabel('Status').selectOption('');
      await expect.poll(async () => (await types()).length).toBe(7);

      // The screenshot: the anonymize receipt open, at a laptop's 1366×768.
      const anonymizeRow = page.locator('#request-rows tr[data-type="anonymize"]').first();
      await anonymizeRow.getByRole('button', { name: /^Details/ }).click();
      await page.locator('table.retained').waitFor();
      await page.screenshot({ path: path.join(shots, 'dashboard.png'), fullPage: true });

      const camille = await contactByEmail('camille.dubois@cafelumiere.fr');
      await page.goto(`${base}/contacts/${camille.id}`);
      await page.getByText('Actions', { exact: true }).click();
      await page.getByRole('button', { name: 'Export Personal Data' }).waitFor();
      await page.screenshot({ path: path.join(shots, 'contact-page.png') });
      expect(existsSync(path.join(shots, 'dashboard.png'))).toBe(true);
      expect(problemsOf(page)).toEqual([]);
    });

    it('a contact downloads their own data on the self-service page; a contact and a non-admin see "Admins only" on the dashboard', async () => {
      const camille = await contactByEmail('camille.dubois@cafelumiere.fr');
      const context = await browser.newContext({ viewport: VIEWPORT, acceptDownloads: true });
      const page = await signIn(context, { contactId: camille.id });
      await page.getByRole('heading', { name: 'Download my data' }).waitFor();
      await page.getByRole('button', { name: 'Request my data' }).click();
      const link = page.getByRole('link', { name: 'Download my data (ZIP)' }).first();
      await link.waitFor({ timeout: 30_000 });
      const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
      const files = await zipOf(download);
      const summary = JSON.parse(files.get('summary.json')!);
      expect(summary.meta.subject).toMatchObject({ id: String(camille.id), displayName: 'Camille Dubois' });
      expect(files.get('categories/consents.json')).toContain('newsletter');
      const others = (await crm.dataSource.getRepository(Contact).find()).filter((c) => c.id !== camille.id).map((c) => c.email);
      for (const [name, text] of files) for (const email of others) expect(text.includes(email), `${email} in ${name}`).toBe(false);

      await page.goto(`${base}/privacy/dashboard`);
      await page.getByRole('heading', { name: 'Admins only' }).waitFor();
      expect(await page.locator('#app').isHidden()).toBe(true);
      expect(problemsOf(page)).toEqual([]);
      await context.close();

      const sales = await browser.newContext({ viewport: VIEWPORT });
      const nora = await signIn(sales, 'Nora Patel');
      await nora.goto(`${base}/privacy/dashboard`);
      await nora.getByRole('heading', { name: 'Admins only' }).waitFor();
      await sales.close();
      await admin.close();
    });
  });
}
