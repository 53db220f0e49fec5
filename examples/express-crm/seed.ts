/**
 * Realistic, hand-written sample data for two organizations (tenants) of the CRM: Northwind Traders and Globex.
 * Deterministic: the same rows on every start, so the walkthrough in README.md matches what you see.
 */
import type { DataSource } from 'typeorm';
import { Activity, AuditLogEntry, Company, Consent, Contact, Deal, Invoice, Ticket } from './entities.js';

export interface Organization {
  id: string;
  name: string;
}

export const ORGANIZATIONS: Organization[] = [
  { id: 'northwind', name: 'Northwind Traders' },
  { id: 'globex', name: 'Globex Corporation' },
];

const COMPANIES = [
  { organizationId: 'northwind', name: 'Bergström Logistik AB', domain: 'bergstrom-logistik.se', industry: 'Logistics', city: 'Gothenburg' },
  { organizationId: 'northwind', name: 'Café Lumière', domain: 'cafelumiere.fr', industry: 'Hospitality', city: 'Lyon' },
  { organizationId: 'northwind', name: 'Harbor & Pine Architects', domain: 'harborpine.com', industry: 'Architecture', city: 'Portland' },
  { organizationId: 'northwind', name: 'Kestrel Analytics', domain: 'kestrel-analytics.ie', industry: 'Software', city: 'Dublin' },
  { organizationId: 'globex', name: 'Meridian Health Partners', domain: 'meridianhealth.ca', industry: 'Healthcare', city: 'Toronto' },
  { organizationId: 'globex', name: 'Oakridge School District', domain: 'oakridge.k12.tx.us', industry: 'Education', city: 'Austin' },
  { organizationId: 'globex', name: 'Sakura Foods', domain: 'sakura-foods.jp', industry: 'Food & beverage', city: 'Osaka' },
];

// [company index, first, last, job title, phone, city, birthday]
const CONTACTS: Array<[number, string, string, string, string | null, string | null, string | null]> = [
  [0, 'Astrid', 'Lindqvist', 'Head of Operations', '+46 31 555 01 23', 'Gothenburg', '1984-03-12'],
  [0, 'Johan', 'Ekström', 'Fleet Manager', '+46 31 555 07 88', 'Mölndal', null],
  [1, 'Camille', 'Dubois', 'Owner', '+33 4 72 55 01 90', 'Lyon', '1979-11-02'],
  [1, 'Théo', 'Marchand', 'Purchasing', null, 'Villeurbanne', null],
  [2, 'Maya', 'Okafor', 'Principal Architect', '+1 503 555 0142', 'Portland', '1988-06-21'],
  [2, 'Daniel', 'Reyes', 'Office Manager', '+1 503 555 0177', 'Beaverton', null],
  [2, 'Priya', 'Raman', 'Project Lead', '+1 503 555 0119', 'Portland', '1991-01-30'],
  [3, 'Siobhán', "O'Connell", 'CTO', '+353 1 555 0101', 'Dublin', '1982-09-14'],
  [3, 'Liam', 'Byrne', 'Data Engineer', '+353 1 555 0166', 'Dún Laoghaire', null],
  [3, 'Aoife', 'Gallagher', 'Finance Director', '+353 1 555 0134', 'Dublin', '1975-04-05'],
  [4, 'Ethan', 'Tremblay', 'IT Director', '+1 416 555 0190', 'Toronto', '1980-12-08'],
  [4, 'Sofia', 'Rossi', 'Procurement Lead', '+1 416 555 0155', 'Mississauga', null],
  [5, 'Marcus', 'Johnson', 'Superintendent', '+1 512 555 0123', 'Austin', '1970-07-19'],
  [5, 'Elena', 'García', 'Technology Coordinator', '+1 512 555 0188', 'Round Rock', null],
  [6, 'Haruto', 'Sato', 'Export Manager', '+81 6 5555 0101', 'Osaka', '1986-02-27'],
  [6, 'Yui', 'Nakamura', 'Marketing', '+81 6 5555 0144', 'Kobe', null],
];

const ACTIVITIES: Array<[Activity['kind'], string, string]> = [
  ['call', 'Intro call', 'Walked through their current process and pain points; follow up with a proposal next week.'],
  ['email', 'Proposal sent', 'Sent the proposal PDF with three pricing options and the implementation timeline.'],
  ['meeting', 'On-site workshop', 'Half-day workshop with the team; agreed on a pilot with two departments.'],
  ['note', 'Preferences', 'Prefers email over phone; not available on Fridays. Mentioned a trip to Lisbon in May.'],
  ['call', 'Renewal check-in', 'Happy with the service; asked about volume discounts for next year.'],
  ['email', 'Invoice question', 'Asked for the PO number to be added to the next invoice.'],
];

const TICKETS = [
  ['Cannot log in to the customer portal', 'Password reset emails do not arrive; checked spam folder already.'],
  ['Wrong delivery address on order', 'The last shipment went to our old office; please update the address on file.'],
  ['Export to CSV is missing columns', 'The monthly report export lacks the cost centre column since the last update.'],
  ['Request for a training session', 'New team members need an introduction to the reporting module.'],
];

const DEALS: Array<[string, Deal['stage'], string, string | null]> = [
  ['Annual service contract', 'won', '24000.00', 'Signed after the pilot; champion is very responsive.'],
  ['Pilot extension', 'negotiation', '8500.00', 'Budget approval expected end of quarter.'],
  ['Analytics add-on', 'proposal', '12000.00', null],
];

const ADDRESSES: Record<string, string> = {
  Gothenburg: 'Lindholmspiren 7, 417 56 Göteborg, Sweden',
  Lyon: '12 Rue de la République, 69002 Lyon, France',
  Portland: '1120 NW Couch St, Portland, OR 97209, USA',
  Dublin: '5 Hanover Quay, Dublin 2, D02 VY79, Ireland',
  Toronto: '200 Front St W, Toronto, ON M5V 3K2, Canada',
  Austin: '1111 W 6th St, Austin, TX 78703, USA',
  Osaka: '3-1-3 Umeda, Kita-ku, Osaka 530-0001, Japan',
};

const day = (n: number) => new Date(Date.UTC(2025, 0, 6, 9, 30) + n * 86_400_000);
const slug = (s: string) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z]+/g, '');

/** Fills an empty database; a database that already has contacts is left alone. */
export async function seed(dataSource: DataSource): Promise<{ seeded: boolean }> {
  if ((await dataSource.getRepository(Contact).count({ withDeleted: true })) > 0) return { seeded: false };
  await dataSource.transaction(async (m) => {
    const companies = await m.getRepository(Company).save(COMPANIES.map((c) => m.getRepository(Company).create(c)));
    const contacts: Contact[] = [];
    for (const [i, [companyIndex, firstName, lastName, jobTitle, phone, city, birthday]] of CONTACTS.entries()) {
      const company = companies[companyIndex];
      contacts.push(
        await m.getRepository(Contact).save(
          m.getRepository(Contact).create({ organizationId: company.organizationId, firstName, lastName, jobTitle, phone, city, birthday, company, email: `${slug(firstName)}.${slug(lastName)}@${company.domain}`, createdAt: day(i) }),
        ),
      );
    }
    for (const [i, contact] of contacts.entries()) {
      const org = contact.organizationId;
      const colleagues = contacts.filter((c) => c.company?.id === contact.company?.id && c.id !== contact.id);
      // 3 to 6 activities each, owned by the organization's staff.
      const activities = ACTIVITIES.slice(0, 3 + (i % 4)).map(([kind, subject, body], k) =>
        m.getRepository(Activity).create({ kind, subject, body: `${body}`, occurredAt: day(10 + i * 3 + k * 5), owner: org === 'northwind' ? 'alice.martin' : 'bob.chen', contact }),
      );
      await m.getRepository(Activity).save(activities);
      if (i % 2 === 0) {
        const [title, description] = TICKETS[(i / 2) % TICKETS.length];
        await m.getRepository(Ticket).save(m.getRepository(Ticket).create({ title, description, status: i % 3 === 0 ? 'closed' : 'open', openedAt: day(20 + i), requester: contact, ccs: colleagues.slice(0, 1) }));
      }
      const deals = DEALS.slice(0, 1 + (i % 3)).map(([title, stage, amount, notes]) => m.getRepository(Deal).create({ title: `${contact.company?.name}: ${title}`, stage, amount, notes, primaryContact: contact }));
      await m.getRepository(Deal).save(deals);
      for (const [k, deal] of deals.entries()) {
        if (deal.stage !== 'won') continue;
        const city = contact.company?.city ?? '';
        await m.getRepository(Invoice).save([0, 1].map((n) =>
          m.getRepository(Invoice).create({ number: `INV-2025-${String(100 + i * 10 + k * 2 + n).padStart(4, '0')}`, issuedAt: `2025-0${2 + n * 3}-01`, amount: (Number(deal.amount) / 2).toFixed(2), billingName: `${contact.firstName} ${contact.lastName}, ${contact.company?.name}`, billingAddress: ADDRESSES[city] ?? city, deal }),
        ));
      }
      await m.getRepository(Consent).save([
        m.getRepository(Consent).create({ purpose: 'newsletter', granted: i % 3 !== 1, givenAt: day(2 + i), source: 'Web form', ipAddress: `203.0.113.${10 + i}`, contact }),
        m.getRepository(Consent).create({ purpose: 'phone-calls', granted: true, givenAt: day(4 + i), source: 'Phone', ipAddress: null, contact }),
      ]);
      await m.getRepository(AuditLogEntry).save([
        m.getRepository(AuditLogEntry).create({ organizationId: org, entityType: 'Contact', entityId: String(contact.id), action: 'created', actor: org === 'northwind' ? 'alice.martin' : 'bob.chen', at: day(i) }),
        m.getRepository(AuditLogEntry).create({ organizationId: org, entityType: 'Contact', entityId: String(contact.id), action: 'updated', actor: 'import-job', at: day(30 + i) }),
      ]);
    }
  });
  return { seeded: true };
}
