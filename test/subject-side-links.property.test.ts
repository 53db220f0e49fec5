import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PrivacyEngine, createLocalStorage, type Actor } from '../src/index.js';
import { readZip, streamToBuffer } from './support/archive.js';
import { describeEachDatabase } from './support/databases.js';
import {
  VlAnonymousSession,
  VlAuthenticatedSession,
  VlChannel,
  VlCustomer,
  VlCustomerNote,
  VlExternalAuth,
  VlNativeAuth,
  VlStaffNote,
  VlUser,
  vendureLikeEntities,
} from './fixtures/vendure-like.js';

const RUNS = process.env.CI ? 40 : 10;
const CHANNELS = ['org-a', 'org-b', 'org-c'];

/**
 * A random shop: customers with or without a login, in any set of channels; users nobody's customer owns; sign-in
 * methods of both types, sessions (signed in or anonymous) and notes of both kinds spread over them.
 */
const shopArbitrary = fc.integer({ min: 2, max: 4 }).chain((customers) =>
  fc.integer({ min: 0, max: 2 }).chain((orphans) => {
    const users = customers + orphans;
    const user = fc.nat({ max: users - 1 });
    return fc.record({
      customers: fc.array(fc.record({ hasUser: fc.boolean(), channels: fc.subarray([0, 1, 2]) }), { minLength: customers, maxLength: customers }),
      orphans: fc.constant(orphans),
      methods: fc.array(fc.record({ user, native: fc.boolean() }), { maxLength: 6 }),
      sessions: fc.array(fc.record({ user: fc.option(user), signedIn: fc.boolean() }), { maxLength: 6 }),
      notes: fc.array(fc.record({ customer: fc.nat({ max: customers - 1 }), staff: fc.boolean() }), { maxLength: 5 }),
      exported: fc.nat({ max: customers - 1 }),
      channel: fc.nat({ max: 2 }),
      spelling: fc.constantFrom('exact', 'upper', 'padded', 'accented'),
    });
  }),
);

function spell(code: string, spelling: string): string {
  if (spelling === 'upper') return code.toUpperCase();
  if (spelling === 'padded') return `${code} `;
  if (spelling === 'accented') return code.replace('o', 'ö');
  return code;
}

describeEachDatabase('links walked from the subject side never reach another subject (property)', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  let channels: VlChannel[];
  let run = 0;

  beforeAll(async () => {
    ds = await db.createDataSource(vendureLikeEntities);
    channels = await ds.getRepository(VlChannel).save(CHANNELS.map((code) => ({ code })));
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: VlCustomer,
      tenantColumn: 'channels.code',
      secret: 'vendure-like-property-secret-0001-0001-01',
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-vlp-')) }),
      logger: { info() {}, warn() {}, error() {} },
    });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  it(`exports exactly the rows the model says, once each, and only inside the subject's channels (${RUNS} random shops)`, async () => {
    await fc.assert(
      fc.asyncProperty(shopArbitrary, async (shop) => {
        const tag = `r${++run}x`;
        const userCount = shop.customers.length + shop.orphans;
        const users = await ds.getRepository(VlUser).save(Array.from({ length: userCount }, (_, i) => ({ identifier: `${tag}u${i}@login.test` })));
        const customers = await ds.getRepository(VlCustomer).save(
          shop.customers.map((c, i) => ({
            firstName: `${tag}c${i}`,
            lastName: 'L',
            emailAddress: `${tag}c${i}@mail.test`,
            customFields: { nickname: null, tier: null, bio: null },
            user: c.hasUser ? users[i] : null,
            channels: c.channels.map((k) => channels[k]),
          })),
        );
        const methods = [];
        for (const [i, m] of shop.methods.entries()) {
          methods.push(
            m.native
              ? await ds.getRepository(VlNativeAuth).save({ user: users[m.user], identifier: `${tag}m${i}`, passwordHash: `${tag}h${i}` })
              : await ds.getRepository(VlExternalAuth).save({ user: users[m.user], strategy: 'oidc', externalIdentifier: `${tag}m${i}` }),
          );
        }
        const sessions = [];
        for (const [i, s] of shop.sessions.entries()) {
          sessions.push(
            s.signedIn && s.user !== null
              ? await ds.getRepository(VlAuthenticatedSession).save({ user: users[s.user], token: `${tag}s${i}` })
              : await ds.getRepository(VlAnonymousSession).save({ token: `${tag}s${i}` }),
          );
        }
        const notes = [];
        for (const [i, n] of shop.notes.entries()) {
          const repo = n.staff ? ds.getRepository(VlStaffNote) : ds.getRepository(VlCustomerNote);
          notes.push(await repo.save({ customer: customers[n.customer], body: `${tag}n${i}` }));
        }

        const target = shop.exported;
        const code = CHANNELS[shop.channel];
        const tenantId = spell(code, shop.spelling);
        const actor: Actor = { id: 'admin', roles: ['admin'], tenantId };
        const member = shop.customers[target].channels.includes(shop.channel) && tenantId === code;
        if (!member) {
          await expect(engine.export({ subjectId: customers[target].id, actor })).rejects.toMatchObject({ code: 'NOT_FOUND' });
          return;
        }
        const request = await engine.export({ subjectId: customers[target].id, actor });
        const done = await engine.waitForRequest(request.id);
        expect(done.error).toBeUndefined();
        const files = await readZip(await streamToBuffer((await engine.download({ requestId: done.id, actor })).stream));
        const categories = JSON.parse(files.get('summary.json')!).categories as Record<string, { records: Array<{ _id: string }> }>;
        const ids = (name: string) => (categories[name]?.records ?? []).map((r) => r._id).sort();
        const sorted = (xs: Array<{ id: number }>) => xs.map((x) => String(x.id)).sort();

        // The model: the customer's own login (if any), and what hangs off that login or off the customer.
        const login = shop.customers[target].hasUser ? target : null;
        expect(ids('account')).toEqual(login === null ? [] : [String(users[login].id)]);
        expect(ids('passwords')).toEqual(sorted(methods.filter((_, i) => shop.methods[i].native && shop.methods[i].user === login)));
        expect(ids('sign-in-methods')).toEqual(sorted(methods.filter((_, i) => !shop.methods[i].native && shop.methods[i].user === login)));
        expect(ids('sessions')).toEqual(sorted(sessions.filter((_, i) => shop.sessions[i].signedIn && shop.sessions[i].user !== null && shop.sessions[i].user === login)));
        expect(ids('notes')).toEqual(sorted(notes.filter((_, i) => !shop.notes[i].staff && shop.notes[i].customer === target)));
        // No credential ever leaves, whoever's it is.
        expect([...files.values()].join('\n')).not.toMatch(new RegExp(`${tag}h\\d`));
      }),
      { numRuns: RUNS },
    );
  });
});
