// The admin console: plain DOM over the payments API, with the admin's own session cookie.
// Every value is written with textContent, never as HTML: payloads and ids come from outside.
'use strict';

const API = '/api/payments';
const $ = (selector) => document.querySelector(selector);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c ?? ''));
  return node;
}

/** Calls the API; an error answer is thrown with its `{errors: [...]}` body, the service's contract. */
async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    credentials: 'same-origin',
    headers: {
      accept: 'application/json',
      ...(options.body ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
  });
  const body = await res.json().catch(() => ({ errors: [{ message: `HTTP ${res.status}` }] }));
  if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status, body });
  return body;
}

function notify(text, isError = false) {
  const n = $('#notice');
  n.textContent = text;
  n.className = isError ? 'error' : '';
  n.hidden = false;
}

function showError(err) {
  const errors = err.body?.errors ?? [{ message: err.message }];
  notify(
    `${err.status ?? ''} ${errors.map((e) => `${e.message}${e.code ? ` (${e.code})` : ''}`).join('; ')}`.trim(),
    true,
  );
}

// Amounts are integers in the currency's minor unit, as the service and Stripe count it (money.js, which
// the service writes from its own rule): a browser's Intl counts some currencies otherwise (ISK).
function money(minor, currency) {
  const digits = minorUnitDigits(currency);
  const format = { style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits };
  return new Intl.NumberFormat('en', format).format(minor / 10 ** digits);
}
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');
const statusTag = (status) => el('span', { class: `status ${status}` }, status);

// Paging follows the API's cursors: the first and last ids of the page shown.
let cursor = {};
let selected = null;

async function loadPayments(page = {}) {
  const form = new FormData($('#filters'));
  const q = new URLSearchParams();
  for (const [k, v] of form) if (v) q.set(k, String(v));
  if (page.starting_after) q.set('starting_after', page.starting_after);
  if (page.ending_before) q.set('ending_before', page.ending_before);
  try {
    const list = await api(`${API}?${q}`);
    const body = $('#payments-table tbody');
    body.replaceChildren(
      ...list.data.map((p) =>
        el(
          'tr',
          { class: `row${p.id === selected ? ' selected' : ''}`, 'data-id': p.id, onclick: () => showPayment(p.id) },
          el('td', {}, when(p.createdAt)),
          el('td', { class: 'mono' }, p.id),
          el('td', { class: 'mono' }, p.userId),
          el('td', { class: 'mono' }, p.orderId ?? (p.request ? `request ${p.request.id}` : '')),
          el('td', { class: 'amount' }, money(p.amount, p.currency)),
          el('td', { class: 'amount' }, p.amountRefunded ? money(p.amountRefunded, p.currency) : ''),
          el('td', {}, statusTag(p.status)),
        ),
      ),
    );
    if (list.data.length === 0) body.append(el('tr', {}, el('td', { colspan: 7 }, 'No payments match.')));
    const first = list.data[0]?.id;
    const last = list.data[list.data.length - 1]?.id;
    const backwards = Boolean(page.ending_before);
    cursor = { first, last };
    $('#newer').disabled = !first || (backwards ? !list.has_more : !page.starting_after);
    $('#older').disabled = !last || (backwards ? false : !list.has_more);
  } catch (err) {
    showError(err);
  }
}

async function showPayment(id) {
  try {
    const p = await api(`${API}/${encodeURIComponent(id)}`);
    selected = p.id;
    document
      .querySelectorAll('#payments-table tr.row')
      .forEach((r) => r.classList.toggle('selected', r.dataset.id === id));
    $('#detail').hidden = false;
    $('#detail-id').textContent = p.id;
    $('#detail-status').replaceWith(Object.assign(statusTag(p.status), { id: 'detail-status' }));
    const fields = [
      ['Amount', money(p.amount, p.currency)],
      ['Refunded', money(p.amountRefunded, p.currency)],
      ['User', p.userId],
      ['Order', p.orderId ?? ''],
      ['Request', p.request ? `${p.request.id} ${p.request.description ?? ''}` : ''],
      ['Charge', p.stripeId ?? ''],
      ['Failure', [p.failureReason, p.declineCode].filter(Boolean).join(' / ')],
      ['Dispute', p.dispute ? `${p.dispute.id} ${p.dispute.reason}` : ''],
      ['Created', when(p.createdAt)],
      ['Updated', when(p.updatedAt)],
    ].filter(([, v]) => v);
    $('#detail-fields').replaceChildren(...fields.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    $('#history-table tbody').replaceChildren(
      ...p.history.map((h) =>
        el(
          'tr',
          {},
          el('td', {}, when(h.at)),
          el('td', {}, statusTag(h.status)),
          el('td', {}, h.change),
          el('td', {}, h.reason ?? ''),
        ),
      ),
    );
    $('#refunds-table tbody').replaceChildren(
      ...p.refunds.map((r) =>
        el(
          'tr',
          {},
          el('td', {}, when(r.createdAt)),
          el('td', { class: 'mono' }, r.id),
          el('td', { class: 'amount' }, money(r.amount, r.currency)),
          el('td', {}, r.reason),
          el('td', {}, statusTag(r.status)),
        ),
      ),
    );
    $('#refund-button').disabled = !['succeeded', 'partially_refunded'].includes(p.status);
    // Only a payment that has not settled is voided; a succeeded one is refunded.
    $('#void-button').disabled = p.status !== 'pending';
  } catch (err) {
    showError(err);
  }
}

// The refund asked for and not yet answered: asked again (after a timeout or a 503, whose refund
// may have been made), it carries the same Idempotency-Key, so the service makes it once. An
// answer (a 201, or a refusal such as 402, which the service would replay for that key) ends it.
let refundAsked = null;
const stillInDoubt = (err) =>
  err.status === undefined || err.status >= 500 || err.body?.errors?.[0]?.code === 'idempotency_key_in_use';
// getRandomValues, unlike randomUUID, works on a page served over plain HTTP too.
const newKey = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

async function refund(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const amount = form.get('amount');
  const path = `${API}/${encodeURIComponent(selected)}/refunds`;
  const body = JSON.stringify({ reason: form.get('reason'), ...(amount ? { amount: Number(amount) } : {}) });
  if (refundAsked?.path !== path || refundAsked.body !== body) refundAsked = { path, body, key: newKey() };
  try {
    const done = await api(path, { method: 'POST', body, headers: { 'idempotency-key': refundAsked.key } });
    refundAsked = null;
    notify(`Refunded ${money(done.amount, done.currency)}: the payment is now ${done.payment.status}.`);
    event.target.reset();
    await Promise.all([showPayment(selected), loadPayments()]);
  } catch (err) {
    if (!stillInDoubt(err)) refundAsked = null;
    showError(err);
  }
}

async function voidPayment() {
  if (!confirm('Void this payment?')) return;
  try {
    const p = await api(`${API}/${encodeURIComponent(selected)}`, { method: 'DELETE' });
    notify(`The payment is now ${p.status}.`);
    await Promise.all([showPayment(selected), loadPayments()]);
  } catch (err) {
    showError(err);
  }
}

async function loadDeadLetters() {
  try {
    const list = await api(`${API}/admin/dead-letters?limit=100`);
    const body = $('#dead-letters-table tbody');
    body.replaceChildren(
      ...list.data.map((d) =>
        el(
          'tr',
          { 'data-id': d.id },
          el('td', {}, when(d.parkedAt)),
          el('td', {}, d.subject),
          el('td', {}, d.reason),
          el('td', {}, d.deliveries),
          el('td', { class: 'mono' }, d.payload),
          el('td', {}, el('button', { type: 'button', onclick: () => replay(d.id) }, 'Replay')),
        ),
      ),
    );
    if (list.data.length === 0) body.append(el('tr', {}, el('td', { colspan: 6 }, 'None parked.')));
  } catch (err) {
    showError(err);
  }
}

async function replay(id) {
  try {
    const d = await api(`${API}/admin/dead-letters/${encodeURIComponent(id)}/replay`, { method: 'POST' });
    notify(`Published ${d.subject} again.`);
    await loadDeadLetters();
  } catch (err) {
    showError(err);
  }
}

async function loadDeliveries() {
  try {
    const list = await api(`${API}/admin/deliveries?status=dead&limit=100`);
    const body = $('#deliveries-table tbody');
    body.replaceChildren(
      ...list.data.map((d) =>
        el(
          'tr',
          { 'data-id': d.id },
          el('td', {}, when(d.diedAt)),
          el('td', { class: 'mono' }, d.url),
          el('td', {}, d.subject),
          el('td', {}, d.attempts),
          el('td', {}, [d.lastStatus, d.lastError].filter(Boolean).join(' ')),
          el('td', {}, el('button', { type: 'button', onclick: () => redeliver(d.id) }, 'Redeliver')),
        ),
      ),
    );
    if (list.data.length === 0) body.append(el('tr', {}, el('td', { colspan: 6 }, 'None dead.')));
  } catch (err) {
    showError(err);
  }
}

async function redeliver(id) {
  try {
    await api(`${API}/admin/deliveries/${encodeURIComponent(id)}/redeliver`, { method: 'POST' });
    notify('Queued again.');
    await loadDeliveries();
  } catch (err) {
    showError(err);
  }
}

/** The statuses and refund reasons come from the API's own document, so the console follows the API. */
async function loadChoices() {
  const doc = await api(`${API}/doc/openapi.json`);
  const statuses = doc.components.schemas.Payment.properties.status.enum;
  const reasons = doc.components.schemas.RefundRequest.properties.reason.enum;
  $('#filters select[name=status]').append(...statuses.map((s) => el('option', { value: s }, s)));
  $('#refund-form select[name=reason]').append(...reasons.map((r) => el('option', { value: r }, r)));
}

document.addEventListener('DOMContentLoaded', () => {
  $('#filters').addEventListener('submit', (e) => {
    e.preventDefault();
    void loadPayments();
  });
  $('#older').addEventListener('click', () => void loadPayments({ starting_after: cursor.last }));
  $('#newer').addEventListener('click', () => void loadPayments({ ending_before: cursor.first }));
  $('#refund-form').addEventListener('submit', refund);
  $('#void-button').addEventListener('click', () => void voidPayment());
  void loadChoices()
    .catch(showError)
    .then(() => Promise.all([loadPayments(), loadDeadLetters(), loadDeliveries()]));
});
