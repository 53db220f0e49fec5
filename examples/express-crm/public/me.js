// "Download my data": a contact exports their own data through /privacy/me/... and downloads the ZIP.
'use strict';

(function () {
  const client = window.PrivacyClient;
  const list = document.getElementById('me-requests');
  const status = document.getElementById('me-status');
  const start = document.getElementById('request-export');
  const LABELS = { queued: 'Queued', running: 'In progress', completed: 'Ready', failed: 'Failed', cancelled: 'Cancelled' };

  const fmt = (iso) => new Date(iso).toLocaleString();

  function say(text, kind) {
    status.hidden = false;
    status.className = 'status-box ' + (kind || '');
    status.textContent = text;
  }

  function item(request) {
    const li = document.createElement('li');
    li.dataset.requestId = request.id;
    const artifact = request.outcome && request.outcome.artifact;
    li.append('Requested ' + fmt(request.createdAt) + ' — ');
    if (request.status === 'completed' && artifact && (artifact.status === 'ready' || artifact.status === 'downloaded')) {
      const a = document.createElement('a');
      a.href = client.base + 'me/export/' + encodeURIComponent(request.id) + '/download';
      a.textContent = 'Download my data (ZIP)';
      a.className = 'download-link';
      li.append(a, ' · available until ' + fmt(artifact.expiresAt));
    } else if (request.status === 'completed' && artifact) {
      li.append('This download has expired. Please request a new export');
    } else {
      li.append(LABELS[request.status] || request.status);
      if (request.status === 'running') li.append(' (' + request.progress.percent + '%)');
    }
    return li;
  }

  async function refresh() {
    const { requests } = await client.call('GET', 'me/requests');
    const exports = requests.filter((r) => r.type === 'export');
    if (exports.length) list.replaceChildren(...exports.map(item));
    else {
      const li = document.createElement('li');
      li.className = 'muted';
      li.textContent = 'No requests yet.';
      list.replaceChildren(li);
    }
    return exports;
  }

  async function request() {
    start.disabled = true;
    try {
      const { request } = await client.call('POST', 'me/export', {});
      say('We are collecting your data…');
      const done = await client.waitFor(
        async () => (await refresh()).find((r) => r.id === request.id) || request,
        (r) => say(r.status === 'running' ? 'We are collecting your data… ' + r.progress.percent + '%' : r.status === 'queued' ? 'We are collecting your data…' : ''),
      );
      say(done.status === 'completed' ? 'Your data is ready: use the download link below.' : 'Something went wrong. Please try again later.', done.status === 'completed' ? 'success' : 'error');
    } catch (error) {
      say(error.message, 'error');
      await refresh();
    } finally {
      start.disabled = false;
    }
  }

  start.addEventListener('click', request);
  refresh().catch((error) => say(error.message, 'error'));
})();
