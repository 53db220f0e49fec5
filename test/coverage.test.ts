import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import fc from 'fast-check';
import { PrivacyEngine, ValidationError } from '../src/index.js';
import { nameTokens } from '../src/coverage/heuristics.js';
import { formatCoverage } from '../src/coverage/format.js';
import { describeEachDatabase } from './support/databases.js';
import { Contact, crmEntities } from './fixtures/crm.js';
import { Shipment, gapEntities } from './fixtures/crm-gaps.js';
import { seedContact } from './fixtures/crm-seed.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const secret = 'coverage-secret-coverage-secret-coverage-secret';

describeEachDatabase('coverage check', (db) => {
  let crm: DataSource;
  let gaps: DataSource;
  beforeAll(async () => {
    crm = await db.createDataSource(crmEntities);
    await seedContact(crm, 'org-a', 'tokfull001');
    gaps = await db.createDataSource([...crmEntities, ...gapEntities]);
    const { contact } = await seedContact(gaps, 'org-a', 'tokgaps001');
    await gaps.getRepository(Shipment).save([
      { recipientPhone: '+44 20 7946 0000', street: '1 Main St', trackingCode: 'TRK-0001', misc: 'someone@mail.example', contact },
      { recipientPhone: '+44 20 7946 0001', street: '2 Main St', trackingCode: 'TRK-0002', misc: 'another@mail.example', contact: null },
    ]);
  });
  afterAll(async () => {
    await crm?.destroy();
    await gaps?.destroy();
  });

  it('reports full coverage of the fully declared CRM without starting the engine', async () => {
    const engine = new PrivacyEngine({ dataSource: crm, subject: Contact, secret, logger: quiet });
    const report = await engine.coverage({ sample: true });
    expect(report.findings).toEqual([]);
    expect(report.complete).toBe(true);
    expect(report.stores).toEqual({ covered: crmEntities.length, total: crmEntities.length });
    expect(report.summary).toBe(`covers ${crmEntities.length} of ${crmEntities.length} data stores, 0 undeclared fields`);
    expect(report.entities.find((e) => e.entity === 'Contact')?.columns.find((c) => c.column === 'email')).toEqual({ column: 'email', status: 'redacted', rule: 'profile: redact email' });
  });

  it('finds every seeded gap (name, relation, sampled values, unredacted column) and nothing declared or allowed', async () => {
    const engine = new PrivacyEngine({ dataSource: gaps, subject: Contact, secret, logger: quiet });
    const withoutSampling = await engine.coverage({ allow: ['Shipment.street'] });
    const found = (r: typeof withoutSampling) => r.findings.map((f) => `${f.entity}.${f.column}:${f.kind}`).sort();
    expect(found(withoutSampling)).toEqual(['CallLog.mobile:not-redacted', 'Shipment.contact:undeclared-entity', 'Shipment.recipientPhone:undeclared-column']);

    const sampled = await engine.coverage({ allow: ['Shipment.street'], sample: { rows: 10 } });
    expect(found(sampled)).toEqual([
      'CallLog.mobile:not-redacted',
      'Shipment.contact:undeclared-entity',
      'Shipment.misc:sampled-values',
      'Shipment.recipientPhone:undeclared-column',
    ]);
    expect(sampled.findings.find((f) => f.column === 'misc')?.personalKind).toBe('email');
    expect(sampled.complete).toBe(false);
    // The subject, 11 CRM entities and CallLog are covered; Shipment is an undeclared store; Product and Device hold none.
    expect(sampled.stores).toEqual({ covered: crmEntities.length + 1, total: crmEntities.length + 2 });
    expect(sampled.entities.find((e) => e.entity === 'Device')?.status).toBe('not-personal');
    expect(sampled.entities.find((e) => e.entity === 'Product')?.status).toBe('no-personal-data');
    // No sampled value appears in the report, the JSON or the table.
    const text = `${JSON.stringify(sampled)}\n${formatCoverage(sampled)}`;
    expect(text).not.toContain('@mail.example');
    expect(text).not.toContain('7946');
    expect(formatCoverage(sampled)).toMatch(/Shipment\s+recipientPhone\s+undeclared-column/);

    // Without the allow-list entry the street is reported too.
    expect(found(await engine.coverage())).toContain('Shipment.street:undeclared-column');
  });

  it('refuses bad options with a ValidationError', async () => {
    const engine = new PrivacyEngine({ dataSource: crm, subject: Contact, secret, logger: quiet });
    await expect(engine.coverage({ sample: { rows: 0 } })).rejects.toBeInstanceOf(ValidationError);
    await expect(engine.coverage({ allow: 'Contact' as never })).rejects.toBeInstanceOf(ValidationError);
  });
});

it('name heuristics read camelCase, snake_case and kebab-case alike', () => {
  fc.assert(
    fc.property(fc.array(fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/), { minLength: 1, maxLength: 4 }), (words) => {
      const camel = words.map((w, i) => (i === 0 ? w : w[0].toUpperCase() + w.slice(1))).join('');
      const expected = nameTokens(words.join('_'));
      expect(nameTokens(camel).join('')).toBe(expected.join(''));
      expect(nameTokens(words.join('-'))).toEqual(expected);
    }),
  );
});
