// Contact page: "Actions → Export Personal Data / Anonymize / Delete", through the privacy router.
'use strict';

(function () {
  const client = window.PrivacyClient;
  const panel = document.getElementById('privacy-panel');
  const status = document.getElementById('privacy-status');
  const dialog = document.getElementById('crm-confirm');
  if (!panel || !dialog) return;
  const contactId = panel.dataset.contactId;
  const name = panel.dataset.contactName;

  const CONFIRM = {
    export: { title: 'Export personal data', button: 'Export', text: 'This will generate a complete data export for ' + name + ' including all related records. Continue?' },
    anonymize: { title: 'Anonymize contact', button: 'Anonymize', text: 'This will anonymize ' + name + ': names, email, phone and notes are replaced in every related record, the history stays. An admin can restore it during the recovery window. Continue?' },
    delete: { title: 'Delete contact', button: 'Delete', text: 'This will delete ' + name + ' and all related personal records. They disappear from the CRM at once; invoices and consent records are kept as the law requires. An admin can restore them during the recovery window. Continue?' },
  };
  const RUNNING = { export: 'Export in progress…', anonymize: 'Anonymizing…', delete: 'Deleting…' };

  function confirmAction(kind) {
    document.getElementById('crm-confirm-title').textContent = CONFIRM[kind].title;
    document.getElementById('crm-confirm-message').textContent = CONFIRM[kind].text;
    const yes = document.getElementById('crm-confirm-yes');
    yes.textContent = CONFIRM[kind].button;
    yes.className = kind === 'export' ? 'primary' : 'danger';
    dialog.returnValue = '';
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
      dialog.showModal();
      document.getElementById('crm-confirm-no').focus();
    });
  }

  function say(parts, kind) {
    status.hidden = false;
    status.className = 'status-box ' + (kind || '');
    status.replaceChildren(...parts.map((p) => (typeof p === 'string' ? document.createTextNode(p) : p)));
  }

  function progressLine(request) {
    const bar = document.createElement('progress');
    bar.max = 100;
    bar.value = request.progress.percent;
    bar.setAttribute('aria-label', 'Progress');
    return [bar, ' ' + request.progress.percent + '% · ' + request.status];
  }

  function button(label, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.addEventListener('click', onClick);
    return b;
  }

  function dashboardLink() {
    const a = document.createElement('a');
    a.href = '/privacy/dashboard';
    a.textContent = 'Open the privacy dashboard';
    return a;
  }

  async function download(request) {
    try {
      const link = await client.call('POST', 'requests/' + encodeURIComponent(request.id) + '/download-link', {});
      location.assign(client.base + link.url);
    } catch (error) {
      say([error.message], 'error');
    }
  }

  async function run(kind) {
    document.getElementById('contact-actions').open = false;
    if (!(await confirmAction(kind))) return;
    let request;
    try {
      request = (await client.call('POST', 'subjects/' + encodeURIComponent(contactId) + '/' + kind, {})).request;
    } catch (error) {
      const existing = error.request ? ' (' + error.request.type + ', ' + error.request.status + ')' : '';
      return say([error.message + existing + '. ', dashboardLink()], 'error');
    }
    const done = await client.waitFor(
      async () => (await client.call('GET', 'requests/' + encodeURIComponent(request.id))).request,
      (r) => say([RUNNING[kind] + ' '].concat(progressLine(r))),
    );
    if (done.status !== 'completed') {
      return say([kind === 'export' ? 'Data export failed. Please retry. ' : 'The request ended ' + done.status + (done.error ? ': ' + done.error.message : '') + '. ', dashboardLink()], 'error');
    }
    if (kind === 'export') {
      say(['Personal data export for ' + name + ' is ready. Download link available for 7 days. ', button('Download ZIP', () => download(done))], 'success');
    } else if (kind === 'delete') {
      say([name + ' was deleted. An admin can restore the contact from the privacy dashboard until the recovery window ends. ', dashboardLink()], 'success');
    } else {
      const reload = button('Reload the page', () => location.reload());
      say([name + ' was anonymized. ', reload, ' ', dashboardLink()], 'success');
    }
  }

  for (const b of document.querySelectorAll('[data-privacy-action]')) b.addEventListener('click', () => run(b.dataset.privacyAction));
})();
