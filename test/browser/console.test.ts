import type { Page } from 'playwright-core';
import { describeInBrowser } from '../support/browser';
import { useCheckout } from '../support/checkout-site';
import { createOrder, eventually, newId, newUser, sessionCookie } from '../support/harness';

const ctx = useCheckout('browser_console');

/** A payment made through the API, as a user would have made it. */
async function paidPayment(price: number, currency?: string): Promise<string> {
  const user = newUser();
  const order = await createOrder(ctx.stack.peer, ctx.stack.service, { userId: user.id, price, currency });
  const res = await fetch(`${ctx.stack.service.url}/api/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: sessionCookie(user) },
    body: JSON.stringify({ token: 'pm_card_visa', orderId: order.id }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function signedInAs(as: 'admin' | 'new'): Promise<{ page: Page; errors: string[] }> {
  const page = await ctx.browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${m.text()} ${m.location().url}`);
  });
  await page.goto(ctx.site.url);
  await page.click(`button[data-as=${as}]`);
  await page.waitForSelector(as === 'admin' ? 'text=(admin)' : 'text=Signed in as user-');
  return { page, errors };
}

describeInBrowser('the admin console', () => {
  test('refunds a payment made on the checkout page: the admin finds it, refunds it, sees its status change', async () => {
    const buyer = await ctx.browser.newPage();
    await buyer.goto(ctx.site.url);
    await buyer.waitForSelector('text=Signed in as');
    await buyer.fill('input[name=price]', '42');
    await buyer.click('#create-order');
    await buyer.waitForSelector('#order:not([hidden]) #order-id:not(:empty)');
    await buyer.click('#pay');
    await buyer.waitForSelector('#outcome-title:has-text("Paid: 201")');
    const paymentId = (JSON.parse((await buyer.textContent('#answer')) as string) as { id: string }).id;
    await buyer.close();

    const { page, errors } = await signedInAs('admin');
    await page.goto(`${ctx.site.url}/api/payments/admin/`);
    const row = page.locator(`#payments-table tr[data-id="${paymentId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('succeeded');

    await row.click();
    await page.waitForSelector(`#detail-id:has-text("${paymentId}")`);
    expect(await page.textContent('#detail-status')).toBe('succeeded');
    await page.fill('#refund-form input[name=amount]', '1200');
    await page.click('#refund-button');
    await page.waitForSelector('#notice:has-text("Refunded $12.00: the payment is now partially_refunded")');
    await page.waitForSelector('#detail-status:has-text("partially_refunded")');
    expect(await page.locator('#refunds-table tbody tr').count()).toBe(1);

    await page.click('#refund-button');
    await page.waitForSelector('#detail-status:text-is("refunded")');
    await page.waitForSelector(`#payments-table tr[data-id="${paymentId}"] .status:text-is("refunded")`);
    expect(await ctx.stack.service.stores.payments.load(paymentId)).toMatchObject({
      status: 'refunded',
      amountRefunded: 4200,
    });

    // Nothing is left to refund.
    expect(await page.isDisabled('#refund-button')).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  test('a refund whose answer was lost, asked for again from the same form, refunds once', async () => {
    const paymentId = await paidPayment(42);
    const { page, errors } = await signedInAs('admin');
    // The first refund reaches the service and is made; its answer is lost on the way back.
    let lost = false;
    await page.route('**/api/payments/*/refunds', async (route) => {
      if (lost) return route.continue();
      lost = true;
      await route.fetch();
      await route.fulfill({ status: 503, json: { errors: [{ message: 'Service Unavailable' }] } });
    });
    await page.goto(`${ctx.site.url}/api/payments/admin/`);
    await page.locator(`#payments-table tr[data-id="${paymentId}"]`).click();
    await page.waitForSelector(`#detail-id:has-text("${paymentId}")`);
    await page.fill('#refund-form input[name=amount]', '1200');
    await page.click('#refund-button');
    await page.waitForSelector('#notice.error:has-text("503")');
    await page.click('#refund-button');
    await page.waitForSelector('#notice:has-text("Refunded $12.00: the payment is now partially_refunded")');
    const payment = await ctx.stack.service.stores.payments.load(paymentId);
    expect({ refunded: payment?.amountRefunded, refunds: payment?.refunds.length }).toEqual({
      refunded: 1200,
      refunds: 1,
    });
    expect(errors.filter((e) => !e.includes('503'))).toEqual([]);
    await page.close();
  });

  test('a refund the provider refused can be asked for again from the same form, and is made', async () => {
    const paymentId = await paidPayment(42);
    const { page, errors } = await signedInAs('admin');
    await page.goto(`${ctx.site.url}/api/payments/admin/`);
    await page.locator(`#payments-table tr[data-id="${paymentId}"]`).click();
    await page.waitForSelector(`#detail-id:has-text("${paymentId}")`);
    await page.fill('#refund-form input[name=amount]', '1200');
    ctx.stack.stripe.failNext(1, 400, 'invalid_request_error', '/v1/refunds');
    await page.click('#refund-button');
    await page.waitForSelector('#notice.error:has-text("402")');
    // Its amount is free again: asked again, it is a new refund, not the refusal replayed.
    await page.click('#refund-button');
    await page.waitForSelector('#notice:has-text("Refunded $12.00: the payment is now partially_refunded")');
    expect(await ctx.stack.service.stores.payments.load(paymentId)).toMatchObject({ amountRefunded: 1200 });
    expect(errors.filter((e) => !e.includes('402'))).toEqual([]);
    await page.close();
  });

  test('shows amounts in the minor units the service and Stripe count them in, where the browser counts otherwise', async () => {
    // Stripe counts ISK in hundredths although the króna has no minor unit in use (the browser's
    // Intl gives it none): 1,500 kr is 150000. Read as whole krónur, it would show 100 times too much.
    const isk = await paidPayment(1500, 'isk');
    const kwd = await paidPayment(1.5, 'kwd');
    const jpy = await paidPayment(1200, 'jpy');
    const { page, errors } = await signedInAs('admin');
    await page.goto(`${ctx.site.url}/api/payments/admin/`);
    const amountOf = async (id: string) => {
      const row = page.locator(`#payments-table tr[data-id="${id}"]`);
      await row.waitFor();
      // Intl puts a no-break space between a currency's code and its amount.
      return (await row.locator('td.amount').first().textContent())?.replace(/\s/g, ' ');
    };
    expect(await amountOf(isk)).toBe('ISK 1,500.00');
    expect(await amountOf(kwd)).toBe('KWD 1.500');
    expect(await amountOf(jpy)).toBe('¥1,200');
    await page.locator(`#payments-table tr[data-id="${isk}"]`).click();
    await page.waitForSelector(`#detail-id:has-text("${isk}")`);
    const fields = await page.locator('#detail-fields dd').allTextContents();
    expect(fields.map((f) => f.replace(/\s/g, ' '))).toContain('ISK 1,500.00');
    expect(errors).toEqual([]);
    await page.close();
  });

  test('filters by status and replays a parked message', async () => {
    const paymentId = await paidPayment(7);
    const refundedId = await paidPayment(3);
    const refunded = await fetch(`${ctx.stack.service.url}/api/payments/${refundedId}/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: sessionCookie(newUser('admin')) },
      body: '{}',
    });
    expect(refunded.status).toBe(201);
    const order = {
      id: newId(),
      version: 0,
      status: 'created',
      userId: newId(),
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
      ticket: { id: newId(), price: 3 },
    };
    await ctx.stack.service.stores.deadLetters.park({
      id: 'order:created#7',
      subject: 'order:created',
      payload: JSON.stringify(order),
      reason: 'a test parked it',
      deliveries: 20,
      publishedAt: new Date(),
      parkedAt: new Date(),
    });
    const { page, errors } = await signedInAs('admin');
    await page.goto(`${ctx.site.url}/api/payments/admin/`);
    // The first list, unfiltered, shows the refunded payment: the filtered one replaces it.
    const refundedRow = page.locator(`#payments-table tr[data-id="${refundedId}"]`);
    await refundedRow.waitFor();
    await page.selectOption('#filters select[name=status]', 'succeeded');
    await page.click('#filters button[type=submit]');
    await refundedRow.waitFor({ state: 'detached' });
    await page.locator(`#payments-table tr[data-id="${paymentId}"]`).waitFor();
    const statuses = await page.locator('#payments-table tbody .status').allTextContents();
    expect(new Set(statuses)).toEqual(new Set(['succeeded']));

    const parked = page.locator('#dead-letters-table tr[data-id="order:created#7"]');
    expect(await parked.textContent()).toContain('a test parked it');
    await parked.locator('button').click();
    await page.waitForSelector('#notice:has-text("Published order:created again")');
    await parked.waitFor({ state: 'detached' });
    await eventually(() => ctx.stack.service.stores.orders.get(order.id));
    expect(errors).toEqual([]);
    await page.close();
  });

  test('is refused to a user who is not an admin with the API 401', async () => {
    const { page } = await signedInAs('new');
    const answer = await page.goto(`${ctx.site.url}/api/payments/admin/`);
    expect(answer?.status()).toBe(401);
    expect(await answer?.json()).toEqual({ errors: [{ message: 'Not authorized', code: 'not_authorized' }] });
    expect(await page.locator('#payments-table').count()).toBe(0);
    await page.close();
  });
});
