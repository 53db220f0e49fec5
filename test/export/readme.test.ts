import { describe, expect, it } from 'vitest';
import { buildExportReadme, categoryFileBases, sanitizeCategoryName } from '../../src/export/index.js';
import { META } from './helpers.js';

describe('buildExportReadme', () => {
  const categories = [
    {
      name: 'invoices',
      facts: {
        description: 'Invoices issued to you.',
        purpose: 'Billing',
        legalBasis: 'Legal obligation (Art. 6(1)(c))',
        recipients: ['Tax advisor', 'Auditors'],
        retention: 'Tax law: 10 years',
        source: 'Generated from your orders',
      },
      entities: ['Invoice', 'InvoiceLine'],
      count: 12,
    },
    { name: 'mail', facts: {}, entities: ['mailbox-provider'], count: 0 },
  ];

  it('describes files, categories and rights', () => {
    const readme = buildExportReadme(META, categories);
    expect(readme).toMatch(/^# Your personal data\n/);
    expect(readme).toContain('data subject `Contact` `42`');
    expect(readme).toContain('exported on 2025-03-04T05:06:07.000Z (request `req-123`): 12 records in 2 categories.');
    expect(readme).toContain('### invoices\n\nInvoices issued to you.\n\n- Purpose of processing: Billing\n- Legal basis: Legal obligation (Art. 6(1)(c))\n');
    expect(readme).toContain('- Recipients: Tax advisor; Auditors');
    expect(readme).toContain('- Retention: Tax law: 10 years');
    expect(readme).toContain('- Source: Generated from your orders');
    expect(readme).toContain('- Records: 12 records');
    expect(readme).toContain('- Held in: `Invoice`, `InvoiceLine`');
    expect(readme).toContain('- Files: `categories/invoices.json`, `categories/invoices.csv`');
    expect(readme).toContain('### mail\n\n- Purpose of processing: Not stated\n- Legal basis: Not stated');
    expect(readme).toContain('- Records: 0 records');
    for (const right of ['Art. 15', 'Art. 16', 'Art. 17', 'Art. 18', 'Art. 20', 'Art. 21', 'Art. 77', '§1798.100', '§1798.105', '§1798.110']) {
      expect(readme).toContain(right);
    }
    expect(readme).not.toContain('Ada');
    expect(readme).not.toContain('Lovelace');
  });

  it('shows written counts when given, noting the planned one', () => {
    const readme = buildExportReadme(META, categories, { writtenCounts: { invoices: 11, mail: 0 } });
    expect(readme).toContain('- Records: 11 records (12 counted when the export started)');
    expect(readme).toContain('11 records in 2 categories');
  });

  it('keeps host text on one line and code spans intact', () => {
    const readme = buildExportReadme({ ...META, subject: { type: 'Con`tact', id: '4\n2', displayName: null }, warnings: [] }, [
      { name: 'multi\nline', facts: { purpose: 'first\n\nsecond' }, entities: [], count: 1 },
    ]);
    expect(readme).toContain('``Con`tact``');
    expect(readme).toContain('`4 2`');
    expect(readme).toContain('### multi line');
    expect(readme).toContain('- Purpose of processing: first second');
    expect(readme).toContain('- Held in: Not stated');
    expect(readme).not.toContain('Note: the export finished with');
  });
});

describe('category file names', () => {
  it('sanitizes', () => {
    expect(sanitizeCategoryName('Profile')).toBe('profile');
    expect(sanitizeCategoryName('Sales Notes!')).toBe('sales_notes');
    expect(sanitizeCategoryName('Aktivitäten & Notizen')).toBe('aktivitaten_notizen');
    expect(sanitizeCategoryName('a-b_c')).toBe('a-b_c');
    expect(sanitizeCategoryName('../..')).toBe('category');
    expect(sanitizeCategoryName('')).toBe('category');
    expect(sanitizeCategoryName('x'.repeat(200))).toHaveLength(80);
  });

  it('makes them unique, deterministically', () => {
    expect(categoryFileBases(['A', 'a', 'a-2', 'b'])).toEqual(['a', 'a-2', 'a-2-2', 'b']);
  });
});
