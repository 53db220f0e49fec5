/** Server-rendered pages of the example CRM. Every interpolated value is escaped; scripts are static files. */
import type { Activity, Company, Consent, Contact, Deal, Invoice, Ticket } from './entities.js';
import { ORGANIZATIONS } from './seed.js';
import { STAFF } from './session.js';

class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const escape = (value: unknown): string =>
  String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A template whose interpolations are escaped, unless they are Html (or arrays of Html) already. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  values.forEach((value, i) => {
    const parts = Array.isArray(value) ? value : [value];
    out += parts.map((v) => (v instanceof Html ? v.value : escape(v))).join('') + strings[i + 1];
  });
  return new Html(out);
}

const orgName = (id: string) => ORGANIZATIONS.find((o) => o.id === id)?.name ?? id;
const fmtDate = (d: Date | string | null | undefined) => (d ? new Date(d).toISOString().slice(0, 10) : '—');
const fullName = (c: Contact) => `${c.firstName} ${c.lastName}`;

export interface Viewer {
  label: string;
  kind: 'staff' | 'contact';
}

export function layout(title: string, viewer: Viewer | undefined, body: Html, scripts: string[] = []): string {
  const nav =
    viewer?.kind === 'staff'
      ? html`<a href="/contacts">Contacts</a><a href="/privacy/dashboard">Privacy dashboard</a>`
      : viewer?.kind === 'contact'
        ? html`<a href="/me">Download my data</a>`
        : html``;
  return html`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${title} · Example CRM</title>
  <link rel="stylesheet" href="/static/crm.css">
  ${scripts.map((s) => html`<script src="${s}" defer></script>`)}
</head>
<body>
  <header class="site">
    <a class="brand" href="/">Example CRM</a>
    <nav aria-label="Main">${nav}</nav>
    ${viewer
      ? html`<form class="signout" method="post" action="/logout"><span>${viewer.label}</span> <button type="submit">Sign out</button></form>`
      : html``}
  </header>
  <main>
${body}
  </main>
</body>
</html>`.value;
}

export function loginPage(contacts: Contact[]): Html {
  return html`<h1>Sign in</h1>
<p class="lede">A fake login for the example: pick who you are. Admins use the CRM and the privacy dashboard; a contact gets the self-service "Download my data" page.</p>
<div class="cards">
  <section class="card" aria-labelledby="staff-heading">
    <h2 id="staff-heading">Staff</h2>
    <ul class="plain">
      ${STAFF.map(
        (u) => html`<li><form method="post" action="/login"><input type="hidden" name="user" value="staff:${u.id}">
        <button type="submit" class="wide">${u.name} <span class="muted">— ${u.roles.includes('admin') ? 'admin' : u.roles.join(', ')}, ${orgName(u.organizationId)}</span></button></form></li>`,
      )}
    </ul>
  </section>
  <section class="card" aria-labelledby="contact-heading">
    <h2 id="contact-heading">A contact (self-service)</h2>
    <form method="post" action="/login" class="stack">
      <label for="contact-select">Contact</label>
      <select id="contact-select" name="user">
        ${contacts.map((c) => html`<option value="contact:${c.id}">${fullName(c)} (${c.company?.name ?? orgName(c.organizationId)})</option>`)}
      </select>
      <button type="submit">Sign in as this contact</button>
    </form>
  </section>
</div>`;
}

export function contactsPage(orgId: string, contacts: Contact[]): Html {
  return html`<h1>Contacts <span class="muted">· ${orgName(orgId)}</span></h1>
<table class="data">
  <caption class="visually-hidden">Contacts of ${orgName(orgId)}</caption>
  <thead><tr><th scope="col">Name</th><th scope="col">Company</th><th scope="col">Job title</th><th scope="col">Email</th><th scope="col">Phone</th><th scope="col">City</th></tr></thead>
  <tbody>
    ${contacts.map(
      (c) => html`<tr><th scope="row"><a href="/contacts/${c.id}">${fullName(c)}</a></th><td>${c.company?.name ?? '—'}</td><td>${c.jobTitle ?? '—'}</td><td>${c.email}</td><td>${c.phone ?? '—'}</td><td>${c.city ?? '—'}</td></tr>`,
    )}
  </tbody>
</table>
<p class="muted">${contacts.length} contacts. Deleted contacts disappear from this list at once; an admin can restore them from the <a href="/privacy/dashboard">privacy dashboard</a> during the recovery window.</p>`;
}

export interface ContactDetails {
  contact: Contact;
  company: Company | null;
  activities: Activity[];
  tickets: Ticket[];
  deals: Deal[];
  invoices: Invoice[];
  consents: Consent[];
}

export function contactPage(d: ContactDetails): Html {
  const c = d.contact;
  const name = fullName(c);
  return html`<div class="title-row">
  <h1 id="contact-name">${name}</h1>
  <details class="menu" id="contact-actions">
    <summary>Actions</summary>
    <div class="menu-items" role="group" aria-label="Actions for ${name}">
      <button type="button" data-privacy-action="export">Export Personal Data</button>
      <button type="button" data-privacy-action="anonymize">Anonymize</button>
      <button type="button" data-privacy-action="delete" class="danger">Delete</button>
    </div>
  </details>
</div>
<div id="privacy-panel" data-contact-id="${c.id}" data-contact-name="${name}"></div>
<div id="privacy-status" class="status-box" role="status" aria-live="polite" hidden></div>
<div class="grid">
  <section class="card" aria-labelledby="profile-heading">
    <h2 id="profile-heading">Profile</h2>
    <dl class="facts">
      <dt>Email</dt><dd>${c.email}</dd>
      <dt>Phone</dt><dd>${c.phone ?? '—'}</dd>
      <dt>Job title</dt><dd>${c.jobTitle ?? '—'}</dd>
      <dt>Company</dt><dd>${d.company ? `${d.company.name} (${d.company.city})` : '—'}</dd>
      <dt>City</dt><dd>${c.city ?? '—'}</dd>
      <dt>Birthday</dt><dd>${c.birthday ?? '—'}</dd>
      <dt>Contact id</dt><dd>${c.id}</dd>
    </dl>
  </section>
  <section class="card" aria-labelledby="consents-heading">
    <h2 id="consents-heading">Consents</h2>
    <ul class="plain">${d.consents.map((x) => html`<li>${x.purpose}: <strong>${x.granted ? 'granted' : 'refused'}</strong> <span class="muted">${fmtDate(x.givenAt)}, ${x.source}</span></li>`)}</ul>
  </section>
  <section class="card wide-card" aria-labelledby="activities-heading">
    <h2 id="activities-heading">Activities</h2>
    <ul class="timeline">${d.activities.map((a) => html`<li><span class="pill">${a.kind}</span> <strong>${a.subject}</strong> <span class="muted">${fmtDate(a.occurredAt)} · ${a.owner}</span><br>${a.body}</li>`)}</ul>
  </section>
  <section class="card" aria-labelledby="deals-heading">
    <h2 id="deals-heading">Deals and invoices</h2>
    <ul class="plain">${d.deals.map((deal) => html`<li><strong>${deal.title}</strong> <span class="pill">${deal.stage}</span> ${deal.amount} €${deal.notes ? html`<br><span class="muted">${deal.notes}</span>` : html``}</li>`)}</ul>
    <ul class="plain">${d.invoices.map((i) => html`<li>${i.number} · ${i.issuedAt} · ${i.amount} €</li>`)}</ul>
  </section>
  <section class="card" aria-labelledby="tickets-heading">
    <h2 id="tickets-heading">Tickets</h2>
    <ul class="plain">${d.tickets.length ? d.tickets.map((t) => html`<li><strong>${t.title}</strong> <span class="pill">${t.status}</span><br><span class="muted">${t.description}</span></li>`) : html`<li class="muted">No tickets</li>`}</ul>
  </section>
</div>
<dialog id="crm-confirm" aria-labelledby="crm-confirm-title" aria-describedby="crm-confirm-message">
  <form method="dialog">
    <h2 id="crm-confirm-title">Please confirm</h2>
    <p id="crm-confirm-message"></p>
    <div class="dialog-buttons"><button value="cancel" id="crm-confirm-no">Cancel</button> <button value="ok" id="crm-confirm-yes" class="primary">Continue</button></div>
  </form>
</dialog>`;
}

export function mePage(contact: Contact): Html {
  return html`<h1>Your personal data</h1>
<section class="card narrow" aria-labelledby="download-heading" id="me-panel">
  <h2 id="download-heading">Download my data</h2>
  <p>Get a copy of all personal data ${orgName(contact.organizationId)} holds about you, ${contact.firstName}: your profile, activities, tickets, deals and invoices, consents and our audit log entries, as a ZIP file with JSON and CSV files and a README explaining each (GDPR Art. 15 and 20, CCPA §1798.100 and .110).</p>
  <button type="button" id="request-export" class="primary">Request my data</button>
  <div id="me-status" class="status-box" role="status" aria-live="polite" hidden></div>
  <h3>Your requests</h3>
  <ul id="me-requests" class="plain"><li class="muted">Loading…</li></ul>
</section>`;
}

export function messagePage(title: string, message: string): Html {
  return html`<h1>${title}</h1><p>${message}</p><p><a href="/">Back</a></p>`;
}
