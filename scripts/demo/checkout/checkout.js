// The checkout page: what the ticketing client's order page does, against the real service.
'use strict';

const $ = (selector) => document.querySelector(selector);
let order = null;
let timer = null;

async function call(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await res.json().catch(() => ({ errors: [{ message: `HTTP ${res.status}` }] }));
  return { status: res.status, ok: res.ok, answer };
}

/** Shows an answer: the payment, or the errors in the service's `{errors: [{message, field?, code?}]}` shape. */
function show(title, { status, ok, answer }) {
  const box = $('#outcome');
  box.hidden = false;
  box.className = ok ? 'success' : 'failure';
  $('#outcome-title').textContent = `${title}: ${status}`;
  $('#errors').replaceChildren(
    ...(answer.errors ?? []).map((e) => {
      const li = document.createElement('li');
      li.textContent = [e.message, e.field && `field ${e.field}`, e.code && `code ${e.code}`]
        .filter(Boolean)
        .join(' · ');
      return li;
    }),
  );
  $('#answer').textContent = JSON.stringify(answer, null, 2);
}

async function loadSession() {
  const { answer } = await call('GET', '/demo/session');
  $('#who').textContent = answer.user
    ? `Signed in as ${answer.user.email}${answer.user.role === 'admin' ? ' (admin)' : ''}`
    : 'Not signed in';
  $('#cards').replaceChildren(
    ...answer.cards.map((card, i) => {
      const label = document.createElement('label');
      label.className = 'card';
      const input = document.createElement('input');
      Object.assign(input, { type: 'radio', name: 'token', value: card.token, checked: i === 0 });
      input.dataset.number = card.number.replaceAll(' ', '');
      label.append(input, ` ${card.number} (${card.label})`);
      return label;
    }),
  );
  return answer;
}

async function signIn(as) {
  await call('POST', '/demo/session', { as });
  await loadSession();
}

function countdown(expiresAt) {
  clearInterval(timer);
  const tick = () => {
    const left = Math.max(0, Math.round((new Date(expiresAt) - Date.now()) / 1000));
    $('#time-left').textContent =
      left > 0 ? `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')} left to pay` : 'expired';
  };
  tick();
  timer = setInterval(tick, 1000);
}

async function createOrder(event) {
  event.preventDefault();
  const price = Number(new FormData(event.target).get('price'));
  const result = await call('POST', '/demo/orders', { price });
  if (!result.ok) return show('Order refused', result);
  order = result.answer;
  $('#order').hidden = false;
  $('#outcome').hidden = true;
  $('#order-id').textContent = order.id;
  $('#order-price').textContent = `$${order.ticket.price.toFixed(2)}`;
  $('#pay').textContent = `Pay $${order.ticket.price.toFixed(2)}`;
  countdown(order.expiresAt);
}

async function pay(event) {
  event.preventDefault();
  const token = new FormData(event.target).get('token');
  const button = $('#pay');
  button.disabled = true;
  try {
    // Exactly what the ticketing client posts: the card's token and the order, with the session cookie.
    const result = await call('POST', '/api/payments', { token, orderId: order.id });
    show(result.ok ? 'Paid' : 'Payment refused', result);
  } finally {
    button.disabled = false;
  }
}

document.addEventListener('DOMContentLoaded', () => {
  document
    .querySelectorAll('button[data-as]')
    .forEach((b) => b.addEventListener('click', () => void signIn(b.dataset.as)));
  $('#order-form').addEventListener('submit', (e) => void createOrder(e));
  $('#pay-form').addEventListener('submit', (e) => void pay(e));
  void loadSession().then((s) => (s.user ? undefined : signIn('demo')));
});
