import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PrivacyEngine, createLocalStorage } from '../src/index.js';
import { readZip, streamToBuffer } from './support/archive.js';
import { describeEachDatabase } from './support/databases.js';
import { Activity, AuditLogEntry, Campaign, Company, ConsentRecord, Contact, Ticket, crmEntities } from './fixtures/crm.js';

const RUNS = process.env.CI ? 200 : 25;

/** A random CRM: contacts share companies, tickets (as requester or CC) and campaigns; each contact's own data carries its token. */
const crmArbitrary = fc
  .uniqueArray(fc.stringMatching(/^[a-z0-9]{10}$/), { minLength: 2, maxLength: 5 })
  .chain((tokens) => {
    const n = tokens.length;
    const contactIndex = fc.nat({ max: n - 1 });
    return fc.record({
      tokens: fc.constant(tokens.map((t) => `tk${t}`)),
      companyOf: fc.array(fc.nat({ max: 1 }), { minLength: n, maxLength: n }),
      activities: fc.array(fc.nat({ max: 3 }), { minLength: n, maxLength: n }),
      consents: fc.array(fc.nat({ max: 2 }), { minLength: n, maxLength: n }),
      audits: fc.array(fc.nat({ max: 2 }), { minLength: n, maxLength: n }),
      tickets: fc.array(fc.record({ requester: fc.option(contactIndex), ccs: fc.uniqueArray(contactIndex, { maxLength: n }) }), { maxLength: 4 }),
      campaigns: fc.array(fc.uniqueArray(contactIndex, { maxLength: n }), { maxLength: 3 }),
      exported: contactIndex,
    });
  });

describeEachDatabase('export isolation (property)', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  let run = 0;

  beforeAll(async () => {
    ds = await db.createDataSource(crmEntities);
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: Contact,
      tenantColumn: 'organizationId',
      secret: 'property-secret-property-secret-property-1',
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-prop-')) }),
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  it(`exports every token of the subject and none of anyone else (${RUNS} random CRMs)`, async () => {
    await fc.assert(
      fc.asyncProperty(crmArbitrary, async (crm) => {
        // Every run lives in its own tenant, so earlier runs' contacts are "other people" too.
        const organizationId = `org-${++run}`;
        const companies = await ds.getRepository(Company).save([0, 1].map((i) => ({ organizationId, name: `Shared company ${i}`, domain: null })));
        const contacts = await ds.getRepository(Contact).save(
          crm.tokens.map((t, i) => ({
            organizationId,
            firstName: `F${t}`,
            lastName: `L${t}`,
            email: `${t}@mail.example`,
            phone: `+1${t}`,
            notes: `note ${t}`,
            birthday: null,
            customFields: { nickname: `n${t}` },
            company: companies[crm.companyOf[i]],
          })),
        );
        await ds.getRepository(Activity).save(
          contacts.flatMap((contact, i) =>
            Array.from({ length: crm.activities[i] }, (_, k) => ({ kind: 'note' as const, subject: `Note ${k}`, body: `about ${crm.tokens[i]}`, occurredAt: new Date(), contact })),
          ),
        );
        await ds.getRepository(ConsentRecord).save(
          contacts.flatMap((contact, i) => Array.from({ length: crm.consents[i] }, () => ({ purpose: `p-${crm.tokens[i]}`, granted: true, ipAddress: null, contact }))),
        );
        await ds.getRepository(AuditLogEntry).save(
          contacts.flatMap((contact, i) =>
            Array.from({ length: crm.audits[i] }, () => ({ entityType: 'Contact', entityId: String(contact.id), action: 'viewed', details: { marker: crm.tokens[i] } })),
          ),
        );
        for (const [k, t] of crm.tickets.entries()) {
          await ds.getRepository(Ticket).save({
            title: `ticket-${organizationId}-${k}`,
            description: 'A ticket several contacts are on',
            requester: t.requester === null ? null : contacts[t.requester],
            ccs: t.ccs.map((i) => contacts[i]),
          });
        }
        for (const [k, members] of crm.campaigns.entries()) {
          await ds.getRepository(Campaign).save({ name: `campaign-${organizationId}-${k}`, members: members.map((i) => contacts[i]) });
        }

        const subject = contacts[crm.exported];
        const actor = { id: 'admin', roles: ['admin'], tenantId: organizationId };
        const request = await engine.waitForRequest((await engine.export({ subjectId: subject.id, actor })).id, { actor: engine.system });
        expect(request.status).toBe('completed');
        const files = await readZip(await streamToBuffer((await engine.download({ requestId: request.id, actor })).stream));
        const everything = [...files.values()].join('\n');

        const own = crm.tokens[crm.exported];
        expect(everything).toContain(`${own}@mail.example`);
        expect(everything).toContain(`F${own}`);
        expect(everything).toContain(`+1${own}`);
        expect(everything).toContain(`note ${own}`);
        for (const other of crm.tokens.filter((t) => t !== own)) expect(everything).not.toContain(other);
        // Tokens of every earlier run's contacts are absent too: only this tenant's subject is in the archive.
        const summary = JSON.parse(files.get('summary.json')!);
        const profileIds = summary.categories.profile.records.map((r: { _id: string }) => r._id);
        expect(profileIds).toEqual([String(subject.id)]);
        // Shared records: exactly the tickets, campaigns and company the subject is on, nothing of others'.
        const names = (category: string, field: string) => (summary.categories[category]?.records ?? []).map((r: Record<string, string>) => r[field]).sort();
        const ticketsOn = crm.tickets.flatMap((t, k) => (t.requester === crm.exported || t.ccs.includes(crm.exported) ? [`ticket-${organizationId}-${k}`] : []));
        expect(names('tickets', 'title')).toEqual(ticketsOn.sort());
        const campaignsOn = crm.campaigns.flatMap((m, k) => (m.includes(crm.exported) ? [`campaign-${organizationId}-${k}`] : []));
        expect(names('campaigns', 'name')).toEqual(campaignsOn.sort());
        expect(summary.categories.company.records.map((r: { _id: string }) => r._id)).toEqual([String(companies[crm.companyOf[crm.exported]].id)]);
      }),
      { numRuns: RUNS },
    );
  });
});
