// privacy-engine admin dashboard. Plain browser JavaScript, no framework, no build step: the router serves this
// file as is (CSP script-src 'self'). It only calls the router's JSON endpoints, relative to the mount point.
'use strict';

(function () {
  // The page is <mount>/dashboard (or <mount>/dashboard/): the API is <mount>/.
  const API_BASE = new URL(location.pathname.endsWith('/') ? '../' : './', location.href);
  const POLL_ACTIVE_MS = 1500;
  const POLL_IDLE_MS = 30000;
  const PAGE_SIZE = 50;

  const STATUS_LABELS = { queued: 'Queued', running: 'Running', completed: 'Completed', failed: 'Failed', cancelled: 'Cancelled' };
  const TYPE_LABELS = { export: 'Export', anonymize: 'Anonymize', delete: 'Delete', restore: 'Restore', purge: 'Purge' };
  const ARTIFACT_LABELS = { pending: 'Pending', ready: 'Ready', downloaded: 'Downloaded', expired: 'Expired' };
  // The engine's warning codes (WARNING_MESSAGES in src/request.ts), as people read them.
  const WARNINGS = {
    'subject-anonymized': 'This contact has been anonymized. Exported data will reflect anonymized values',
    'subject-deleted': 'This contact has been deleted. The export holds what is kept until the recovery window ends',
    'purged-before-window-end': 'The recovery data was destroyed before the recovery window ended (force: true)',
  };

  const state = {
    csrf: '',
    session: null,
    actor: null,
    requests: [],
    nextCursor: undefined,
    shown: PAGE_SIZE,
    rows: new Map(), // request id -> { tr, details, signature }
    expanded: new Set(), // request ids whose details row is open
    closed: new Map(), // erasure request id -> the completed restore or purge that closed it
    timer: undefined,
    loading: false,
    again: false,
  };

  const $ = (id) => document.getElementById(id);

  // ---- HTTP -------------------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      const error = (body && body.error) || {};
      super(error.message || `The server answered ${status}`);
      this.status = status;
      this.code = error.code;
      this.request = error.request;
    }
  }

  async function api(path, options) {
    const method = (options && options.method) || 'GET';
    const send = async () => {
      const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
      if (method !== 'GET') {
        init.headers['Content-Type'] = 'application/json';
        init.headers['X-CSRF-Token'] = state.csrf;
        init.body = JSON.stringify((options && options.body) || {});
      }
      const response = await fetch(new URL(path, API_BASE), init);
      let body = null;
      try {
        body = await response.json();
      } catch {
        body = null;
      }
      if (!response.ok) throw new ApiError(response.status, body);
      return body;
    };
    try {
      return await send();
    } catch (error) {
      // A stale CSRF token (a new session in another tab): fetch a fresh one and try once more.
      if (error instanceof ApiError && error.code === 'CSRF' && method !== 'GET') {
        await loadSession();
        return send();
      }
      throw error;
    }
  }

  async function loadSession() {
    const session = await api('session');
    state.session = session;
    state.actor = session.actor;
    state.csrf = session.csrfToken;
    return session;
  }

  // ---- Formatting -------------------------------------------------------------------------------------------

  const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
  const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

  const fmtDateTime = (iso) => (iso ? dateTime.format(new Date(iso)) : '');
  const fmtDate = (iso) => (iso ? dateOnly.format(new Date(iso)) : '');
  // Today's times without the date: the table stays narrow.
  const fmtShort = (iso) => (iso && new Date(iso).toDateString() === new Date().toDateString() ? `today ${timeOnly.format(new Date(iso))}` : fmtDateTime(iso));

  function fmtEta(iso) {
    const ms = Date.parse(iso) - Date.now();
    if (!(ms > 0)) return 'finishing';
    const minutes = Math.round(ms / 60000);
    const span = ms < 60000 ? `${Math.max(1, Math.round(ms / 1000))} s` : minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`;
    return `${timeOnly.format(new Date(iso))} (about ${span})`;
  }

  function fmtBytes(n) {
    if (typeof n !== 'number') return '';
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }

  const subjectLabel = (r) => r.subjectName || `${r.subject.type} #${r.subject.id}`;
  const isOpen = (r) => r.status === 'queued' || r.status === 'running';
  const isOverdue = (r) => isOpen(r) && Date.parse(r.dueAt) < Date.now();
  const artifactOf = (r) => (r.type === 'export' && r.outcome && r.outcome.artifact) || null;
  const receiptOf = (r) => (r.outcome && r.outcome.receipt) || null;

  // ---- DOM helpers ------------------------------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'className') el.className = value;
      else if (key === 'text') el.textContent = value;
      else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function show(id, visible) {
    $(id).hidden = !visible;
  }

  function notify(message, kind) {
    const box = $('notice');
    box.className = `notice ${kind || 'info'}`;
    box.textContent = message;
    box.hidden = false;
  }

  // ---- Confirmation dialog ----------------------------------------------------------------------------------

  function confirmAction(title, message, confirmLabel, danger) {
    const dialog = $('confirm');
    $('confirm-title').textContent = title;
    $('confirm-message').textContent = message;
    const yes = $('confirm-yes');
    yes.textContent = confirmLabel;
    yes.className = danger ? 'danger' : 'primary';
    const opener = document.activeElement;
    return new Promise((resolve) => {
      dialog.addEventListener(
        'close',
        () => {
          resolve(dialog.returnValue === 'ok');
          if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
        },
        { once: true },
      );
      dialog.returnValue = '';
      dialog.showModal();
      // The safe choice has the focus: Enter alone never confirms a destructive action.
      $('confirm-no').focus();
    });
  }

  const MESSAGES = {
    export: (name) => `This will generate a complete data export for ${name} including all related records. Continue?`,
    anonymize: (name) =>
      `This will anonymize all personal data of ${name}: names, emails, phone numbers and notes are replaced, records and history stay. It can be restored until the recovery window ends. Continue?`,
    delete: (name) =>
      `This will delete ${name} and all related personal records: they disappear from the application at once, records kept by law are retained. It can be restored until the recovery window ends. Continue?`,
    restore: (name, r) =>
      `This will restore the personal data of ${name} that this ${TYPE_LABELS[r.type].toLowerCase()} request erased, exactly as it was. Continue?`,
    purge: (name, r) => {
      const receipt = receiptOf(r);
      const early = receipt && receipt.recoveryDeadline && Date.parse(receipt.recoveryDeadline) > Date.now();
      return `This will permanently destroy the recovery data of ${name}: hidden records are removed for good and the erasure can no longer be restored.${early ? ` The recovery window is still open until ${fmtDateTime(receipt.recoveryDeadline)}: purging now ends it early.` : ''} This cannot be undone. Continue?`;
    },
    cancel: (name, r) =>
      `This will cancel the ${TYPE_LABELS[r.type].toLowerCase()} request for ${name}. What was already processed stays as it is${r.type === 'anonymize' || r.type === 'delete' ? ' and can be restored' : ''}. Continue?`,
    retry: (name, r) => `This will run the failed ${TYPE_LABELS[r.type].toLowerCase()} request for ${name} again from its last checkpoint. Continue?`,
  };

  // ---- Actions ----------------------------------------------------------------------------------------------

  // Erasures a completed whole restore or a purge (in the rows loaded) has closed: acting on them again would be refused.
  function closedErasures() {
    const ids = new Map();
    for (const x of state.requests) {
      if (x.status !== 'completed' || !x.outcome || !x.outcome.sourceRequestId) continue;
      if ((x.type === 'restore' && !x.outcome.partial) || x.type === 'purge') ids.set(x.outcome.sourceRequestId, x);
    }
    return ids;
  }

  function actionsFor(r) {
    const actions = [];
    if (isOpen(r)) actions.push('cancel');
    if (r.status === 'failed') actions.push('retry');
    const artifact = artifactOf(r);
    if (r.status === 'completed' && artifact && (artifact.status === 'ready' || artifact.status === 'downloaded')) actions.push('download');
    const receipt = receiptOf(r);
    if (r.status === 'completed' && (r.type === 'anonymize' || r.type === 'delete')) {
      const closed = state.closed.has(r.id);
      if (!closed && (!receipt || !receipt.recoveryDeadline || Date.parse(receipt.recoveryDeadline) > Date.now())) actions.push('restore');
      if (!closed) actions.push('purge');
    }
    return actions;
  }

  const ACTION_LABELS = { cancel: 'Cancel', retry: 'Retry', download: 'Download', restore: 'Restore', purge: 'Purge' };

  async function runAction(action, r) {
    const name = subjectLabel(r);
    if (action === 'download') return download(r);
    const confirmLabel = action === 'cancel' ? 'Cancel request' : ACTION_LABELS[action];
    const ok = await confirmAction(`${ACTION_LABELS[action]} ${TYPE_LABELS[r.type].toLowerCase()} request`, MESSAGES[action](name, r), confirmLabel, action === 'purge' || action === 'cancel');
    if (!ok) return;
    const id = encodeURIComponent(r.id);
    try {
      // Inside the recovery window a purge needs force: the admin has just confirmed ending the window early.
      const receipt = receiptOf(r);
      const early = Boolean(receipt && receipt.recoveryDeadline && Date.parse(receipt.recoveryDeadline) > Date.now());
      const body = action === 'purge' ? { force: early } : {};
      const result = await api(`requests/${id}/${action}`, { method: 'POST', body });
      const verb = { cancel: 'Cancelled', retry: 'Retrying', restore: 'Restore requested for', purge: 'Purge requested for' }[action];
      notify(action === 'cancel' || action === 'retry' ? `${verb} the ${r.type} request for ${name}.` : `${verb} ${name}. Status: ${STATUS_LABELS[result.request.status].toLowerCase()}.`, 'success');
    } catch (error) {
      notify(`${ACTION_LABELS[action]} failed: ${error.message}`, 'error');
    }
    await refresh();
  }

  // The archive is served by a signed, expiring link: create one, then navigate to it (the browser saves the ZIP).
  async function download(r) {
    try {
      const link = await api(`requests/${encodeURIComponent(r.id)}/download-link`, { method: 'POST', body: {} });
      notify(`Downloading the export of ${subjectLabel(r)}. The link expires ${fmtDateTime(link.expiresAt)}.`, 'success');
      location.assign(new URL(link.url, API_BASE).href);
    } catch (error) {
      notify(error.code === 'LINK_EXPIRED' ? error.message : `Download failed: ${error.message}`, 'error');
    }
    setTimeout(refresh, 1000);
  }

  async function submitNew(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const input = $('new-subject');
    const subjectId = input.value.trim();
    const type = form.elements.type.value;
    const regulation = form.elements.regulation.value;
    input.removeAttribute('aria-invalid');
    if (!subjectId) {
      input.setAttribute('aria-invalid', 'true');
      notify('Enter the id of the contact the request is about.', 'error');
      input.focus();
      return;
    }
    let name;
    try {
      const { subject } = await api(`subjects/${encodeURIComponent(subjectId)}`);
      name = subject.name || `${subject.type} #${subject.id}`;
    } catch (error) {
      input.setAttribute('aria-invalid', 'true');
      notify(error.status === 404 ? `No contact with id ${subjectId} was found.` : error.message, 'error');
      input.focus();
      return;
    }
    const ok = await confirmAction(`${TYPE_LABELS[type]} personal data`, MESSAGES[type](name), TYPE_LABELS[type], type !== 'export');
    if (!ok) return;
    try {
      const { request } = await api(`subjects/${encodeURIComponent(subjectId)}/${type}`, { method: 'POST', body: { regulation } });
      notify(`${TYPE_LABELS[type]} requested for ${name}. Status: ${STATUS_LABELS[request.status].toLowerCase()}, due ${fmtDate(request.dueAt)}.`, 'success');
      form.reset();
    } catch (error) {
      const existing = error.request ? ` (${TYPE_LABELS[error.request.type] || error.request.type} request, ${STATUS_LABELS[error.request.status] || error.request.status}, created ${fmtDateTime(error.request.createdAt)})` : '';
      notify(`${error.message}${existing}.`, 'error');
    }
    await refresh();
  }

  // ---- Rendering --------------------------------------------------------------------------------------------

  function statusCell(r) {
    const cell = h('td', { className: 'status' }, h('span', { className: `badge status-${r.status}`, text: STATUS_LABELS[r.status] || r.status }));
    const artifact = artifactOf(r);
    if (artifact && artifact.status) {
      cell.append(h('span', { className: `artifact artifact-${artifact.status}` }, 'Archive: ', ARTIFACT_LABELS[artifact.status] || artifact.status));
    }
    if (r.error) cell.append(h('span', { className: 'error-text', text: r.error.message }));
    if (r.review && r.review.length) {
      cell.append(h('span', { className: 'flag', text: `${r.review.length} ${r.review.length === 1 ? 'item' : 'items'} flagged for review` }));
    }
    if (r.warnings && r.warnings.length) cell.append(h('span', { className: 'warning-text', text: r.warnings.map((w) => WARNINGS[w] || w).join('. ') }));
    const closedBy = state.closed.get(r.id);
    if (closedBy) cell.append(h('span', { className: 'muted small', text: `${closedBy.type === 'purge' ? 'Purged' : 'Restored'} ${fmtShort(closedBy.finishedAt)}` }));
    return cell;
  }

  function progressCell(r) {
    const percent = Math.max(0, Math.min(100, Number(r.progress && r.progress.percent) || 0));
    const label = `Progress of the ${r.type} request for ${subjectLabel(r)}`;
    const cell = h('td', { className: 'progress-cell' });
    const bar = h('progress', { max: 100, value: percent, 'aria-label': label, 'data-percent': percent });
    const text = h('span', { className: 'percent', text: `${percent}%` });
    cell.append(h('div', { className: 'progress-line' }, bar, text));
    if (r.status === 'running') {
      const detail = r.progress.total ? `${r.progress.done.toLocaleString()} of ${r.progress.total.toLocaleString()} records` : 'Starting';
      cell.append(h('span', { className: 'muted small', text: r.eta ? `${detail} · ETA ${fmtEta(r.eta)}` : detail }));
    } else if (r.status === 'queued') {
      cell.append(h('span', { className: 'muted small', text: 'Waiting to start' }));
    } else if (r.finishedAt) {
      cell.append(h('span', { className: 'muted small', text: `Finished ${fmtShort(r.finishedAt)}` }));
    }
    return cell;
  }

  function dueCell(r) {
    const cell = h('td', { className: 'due' }, h('time', { datetime: r.dueAt, text: fmtDate(r.dueAt) }));
    if (isOverdue(r)) {
      cell.classList.add('overdue');
      cell.append(h('span', { className: 'badge overdue-badge', text: 'Overdue' }));
    }
    if (r.deadlineExtensions && r.deadlineExtensions.length) {
      const days = r.deadlineExtensions.reduce((sum, e) => sum + e.days, 0);
      cell.append(h('span', { className: 'muted small', text: `extended by ${days} days` }));
    }
    return cell;
  }

  function actionsCell(r) {
    const name = subjectLabel(r);
    const cell = h('td', { className: 'actions' });
    for (const action of actionsFor(r)) {
      cell.append(
        h('button', {
          type: 'button',
          className: action === 'purge' ? 'danger small-button' : 'small-button',
          'data-action': action,
          'aria-label': `${ACTION_LABELS[action]} ${r.type} request for ${name}`,
          text: ACTION_LABELS[action],
          onclick: () => runAction(action, r),
        }),
      );
    }
    const expanded = state.expanded.has(r.id);
    cell.append(
      h('button', {
        type: 'button',
        className: 'link-button',
        'data-action': 'details',
        'aria-expanded': expanded ? 'true' : 'false',
        'aria-controls': `details-${r.id}`,
        'aria-label': `Details of the ${r.type} request for ${name}`,
        text: 'Details',
        onclick: () => toggleDetails(r.id),
      }),
    );
    return cell;
  }

  function definitionList(pairs) {
    const dl = h('dl', { className: 'facts' });
    for (const [term, value] of pairs) if (value !== undefined && value !== null && value !== '') dl.append(h('dt', { text: term }), h('dd', { text: String(value) }));
    return dl;
  }

  function countsList(title, counts) {
    const entries = Object.entries(counts || {});
    if (!entries.length) return null;
    return h('div', { className: 'detail-block' }, h('h3', { text: title }), h('ul', {}, entries.map(([k, n]) => h('li', { text: `${k}: ${n}` }))));
  }

  function detailsContent(r) {
    const box = h('div', { className: 'details' });
    box.append(
      definitionList([
        ['Request id', r.id],
        ['Subject', `${r.subject.type} #${r.subject.id}`],
        ['Regulation', r.regulation ? r.regulation.toUpperCase() : ''],
        ['Started', fmtDateTime(r.startedAt)],
        ['Finished', fmtDateTime(r.finishedAt)],
        ['Source request', r.outcome && r.outcome.sourceRequestId],
      ]),
    );
    if (r.error) box.append(h('div', { className: 'detail-block' }, h('h3', { text: 'Error' }), h('p', { className: 'error-text', text: `${r.error.code}: ${r.error.message}` })));
    if (r.review && r.review.length) {
      box.append(h('div', { className: 'detail-block review' }, h('h3', { text: 'Flagged for review' }), h('ul', {}, r.review.map((item) => h('li', {}, h('strong', { text: item.item }), ` — ${item.reason}`)))));
    }
    if (r.warnings && r.warnings.length) box.append(h('div', { className: 'detail-block' }, h('h3', { text: 'Warnings' }), h('ul', {}, r.warnings.map((w) => h('li', { text: WARNINGS[w] || w })))));
    const artifact = artifactOf(r);
    if (artifact && artifact.fileName) {
      box.append(
        h(
          'div',
          { className: 'detail-block' },
          h('h3', { text: 'Archive' }),
          definitionList([
            ['File', artifact.fileName],
            ['Size', fmtBytes(artifact.size)],
            ['Status', ARTIFACT_LABELS[artifact.status] || artifact.status],
            ['Expires', fmtDateTime(artifact.expiresAt)],
            ['Downloaded', artifact.downloadedAt ? `${fmtDateTime(artifact.downloadedAt)} by ${artifact.downloadedBy || 'unknown'}` : ''],
            ['Deleted', artifact.deletedAt ? `${fmtDateTime(artifact.deletedAt)} (${artifact.deletedReason || ''})` : ''],
          ]),
        ),
      );
    }
    if (r.type === 'export' && r.outcome && r.outcome.counts) box.append(countsList('Records per category', r.outcome.counts));
    const receipt = receiptOf(r);
    if (receipt) box.append(receiptBlock(receipt));
    if (r.outcome && r.outcome.restored) box.append(countsList('Restored records per entity', r.outcome.restored));
    if (r.outcome && r.outcome.removed) box.append(countsList('Removed for good per entity', r.outcome.removed));
    return box;
  }

  function receiptBlock(receipt) {
    const block = h('div', { className: 'detail-block receipt' }, h('h3', { text: 'Erasure receipt' }));
    block.append(
      definitionList([
        ['Recovery possible until', fmtDateTime(receipt.recoveryDeadline)],
        ['Verification', receipt.verification ? (receipt.verification.passed ? 'Passed: no erased value remains' : 'Failed: values remain, see the review items') : ''],
      ]),
    );
    // receipt.entities: { <Entity>: { category, action: 'anonymized' | 'hidden' | 'removed', rows, fields } }
    const entities = Object.entries(receipt.entities || {}).map(([entity, count]) =>
      h('li', { text: `${entity} (${count.category}): ${count.rows} ${count.action}${count.fields && count.fields.length ? ` — ${count.fields.join(', ')}` : ''}` }),
    );
    if (entities.length) block.append(h('h4', { text: 'Records' }), h('ul', {}, entities));
    if (receipt.retained && receipt.retained.length) {
      block.append(
        h('h4', { text: 'Retained categories' }),
        h(
          'table',
          { className: 'retained' },
          h('thead', {}, h('tr', {}, ['Category', 'Records', 'Legal basis', 'Kept until'].map((t) => h('th', { scope: 'col', text: t })))),
          h('tbody', {}, receipt.retained.map((x) => h('tr', {}, h('td', { text: x.category }), h('td', { text: `${x.rows} (${x.entity})` }), h('td', { text: x.legalBasis }), h('td', { text: x.until ? fmtDate(x.until) : '—' })))),
        ),
      );
    }
    if (receipt.shared && receipt.shared.length) {
      block.append(h('h4', { text: 'Shared records kept for review' }), h('ul', {}, receipt.shared.map((x) => h('li', { text: `${x.category} (${x.entity}): ${x.rows}` }))));
    }
    return block;
  }

  function toggleDetails(id) {
    if (state.expanded.has(id)) state.expanded.delete(id);
    else state.expanded.add(id);
    const row = state.rows.get(id);
    const request = state.requests.find((r) => r.id === id);
    if (row && request) renderRow(row, request, true);
  }

  function renderRow(row, r, force) {
    const expanded = state.expanded.has(r.id);
    // Re-rendered only when something shown changed (ETA and overdue move with the clock).
    const signature = JSON.stringify([r, expanded, isOverdue(r), r.eta ? fmtEta(r.eta) : '', state.closed.has(r.id)]);
    if (!force && row.signature === signature) return;
    row.signature = signature;
    const focused = row.tr.contains(document.activeElement) ? document.activeElement.getAttribute('data-action') : null;
    row.tr.className = [isOverdue(r) ? 'is-overdue' : '', r.status === 'failed' || (r.review && r.review.length) ? 'needs-attention' : ''].join(' ').trim();
    row.tr.replaceChildren(
      h('th', { scope: 'row', className: 'subject' }, h('span', { className: 'subject-name', text: subjectLabel(r) }), r.subjectName ? h('span', { className: 'muted small', text: `#${r.subject.id}` }) : null),
      h('td', { text: TYPE_LABELS[r.type] || r.type }),
      h('td', { className: 'requested-by', text: r.requestedBy }),
      h('td', { className: 'created' }, h('time', { datetime: r.createdAt, text: fmtDateTime(r.createdAt) })),
      dueCell(r),
      statusCell(r),
      progressCell(r),
      actionsCell(r),
    );
    row.details.hidden = !expanded;
    row.details.replaceChildren(expanded ? h('td', { colspan: 8 }, detailsContent(r)) : h('td', { colspan: 8 }));
    if (focused) {
      const target = row.tr.querySelector(`[data-action="${focused}"]`) || row.tr.querySelector('button');
      if (target) target.focus();
    }
  }

  function render() {
    const tbody = $('request-rows');
    const seen = new Set();
    state.closed = closedErasures();
    for (const r of state.requests) {
      seen.add(r.id);
      let row = state.rows.get(r.id);
      if (!row) {
        row = {
          tr: h('tr', { 'data-request-id': r.id, 'data-status': r.status }),
          details: h('tr', { className: 'details-row', id: `details-${r.id}`, hidden: true }),
          signature: '',
        };
        state.rows.set(r.id, row);
      }
      row.tr.setAttribute('data-status', r.status);
      row.tr.setAttribute('data-type', r.type);
      renderRow(row, r, false);
      tbody.append(row.tr, row.details); // moves existing rows into the new order
    }
    for (const [id, row] of state.rows) {
      if (seen.has(id)) continue;
      row.tr.remove();
      row.details.remove();
      state.rows.delete(id);
    }
    show('empty', state.requests.length === 0);
    show('more', Boolean(state.nextCursor));
    const active = state.requests.filter(isOpen).length;
    $('live').textContent = active ? `${active} ${active === 1 ? 'request is' : 'requests are'} in progress: updating every ${POLL_ACTIVE_MS / 1000} s.` : `Updated ${timeOnly.format(new Date())}.`;
  }

  // ---- Loading ----------------------------------------------------------------------------------------------

  function filterQuery(limit, cursor) {
    const params = new URLSearchParams();
    const status = $('filter-status').value;
    const type = $('filter-type').value;
    if (status) params.set('status', status);
    if (type) params.set('type', type);
    if ($('filter-overdue').checked) params.set('overdue', 'true');
    params.set('limit', String(limit));
    if (cursor) params.set('cursor', cursor);
    return params.toString();
  }

  // Reloads every row shown so far (one page of up to 1000), then schedules the next refresh.
  async function refresh() {
    clearTimeout(state.timer);
    // A refresh asked for during a load (after an action, say) runs once that load ends: its data may predate the action.
    if (state.loading) {
      state.again = true;
      return;
    }
    state.loading = true;
    state.again = false;
    try {
      const page = await api(`requests?${filterQuery(Math.min(1000, state.shown))}`);
      state.requests = page.requests;
      state.nextCursor = page.nextCursor;
      render();
    } catch (error) {
      if (error.status === 401) return showOnly('signed-out');
      $('live').textContent = `Could not refresh: ${error.message}`;
    } finally {
      state.loading = false;
    }
    if (state.again) return refresh();
    const active = state.requests.some(isOpen);
    state.timer = setTimeout(refresh, active ? POLL_ACTIVE_MS : POLL_IDLE_MS);
  }

  async function loadMore() {
    if (!state.nextCursor) return;
    try {
      const page = await api(`requests?${filterQuery(PAGE_SIZE, state.nextCursor)}`);
      state.requests = state.requests.concat(page.requests);
      state.nextCursor = page.nextCursor;
      state.shown = state.requests.length;
      render();
    } catch (error) {
      notify(`Could not load more requests: ${error.message}`, 'error');
    }
  }

  function showOnly(id) {
    for (const section of ['loading', 'signed-out', 'admins-only', 'load-error', 'app']) show(section, section === id);
    clearTimeout(state.timer);
  }

  async function init() {
    $('new-request').addEventListener('submit', submitNew);
    $('filters').addEventListener('change', () => {
      state.shown = PAGE_SIZE;
      refresh();
    });
    $('filters').addEventListener('submit', (event) => event.preventDefault());
    $('refresh').addEventListener('click', () => refresh());
    $('more').addEventListener('click', loadMore);
    try {
      await loadSession();
    } catch (error) {
      if (error.status === 401) return showOnly('signed-out');
      $('load-error-message').textContent = error.message;
      return showOnly('load-error');
    }
    // `admin` is the router's isAdmin() verdict (a host may define admins its own way); roles are the fallback.
    const who = $('whoami');
    who.textContent = `Signed in as ${state.actor.id}${state.actor.tenantId ? ` · organization ${state.actor.tenantId}` : ''}`;
    who.hidden = false;
    const admin = typeof state.session.admin === 'boolean' ? state.session.admin : ((state.actor && state.actor.roles) || []).includes('admin');
    if (!admin) return showOnly('admins-only');
    showOnly('app');
    await refresh();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
