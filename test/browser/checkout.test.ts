import type { Page } from 'playwright-core';
import { describeInBrowser } from '../support/browser';
import { useCheckout } from '../support/checkout-site';
import { paymentsOf } from '../support/harness';

const ctx = useCheckout('browser_checkout');

/** Errors the page itself raised: a script that failed or a resource the policy refused. */
function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return errors;
}

async function orderAt(page: Page, price: string): Promise<string> {
  await page.fill('input[name=price]', price);
  await page.click('#create-order');
  await page.waitForSelector('#order:not([hidden]) #order-id:not(:empty)');
  return (await page.textContent('#order-id')) as string;
}

describeInBrowser('the checkout page', () => {
  test('pays an order with a card that succeeds, posting {token, orderId} with the session cookie', async () => {
    const page = await ctx.browser.newPage();
    const errors = pageErrors(page);
    await page.goto(ctx.site.url);
    await page.waitForSelector(`text=Signed in as ${ctx.demoUser.email}`);

    const orderId = await orderAt(page, '12.50');
    const [posted] = await Promise.all([
      page.waitForRequest((r) => r.url().endsWith('/api/payments') && r.method() === 'POST'),
      page.click('#pay'),
    ]);
    expect(posted.postDataJSON()).toEqual({ token: 'pm_card_visa', orderId });
    expect(await posted.headerValue('cookie')).toMatch(/^session=/);
    await page.waitForSelector('#outcome-title:has-text("Paid: 201")');
    expect(JSON.parse((await page.textContent('#answer')) as string)).toMatchObject({
      orderId,
      status: 'succeeded',
      amount: 1250,
    });

    const [payment] = await paymentsOf(ctx.stack.service, orderId);
    expect(payment).toMatchObject({ status: 'succeeded', amount: 1250, userId: ctx.demoUser.id });
    expect(errors).toEqual([]);
    await page.close();
  });

  test('shows a declined card as the service answers it, and the order can be paid with another card', async () => {
    const page = await ctx.browser.newPage();
    await page.goto(ctx.site.url);
    await page.waitForSelector('text=Signed in as');
    const orderId = await orderAt(page, '30');

    await page.check('input[data-number="4000000000000341"]');
    await page.click('#pay');
    await page.waitForSelector('#outcome-title:has-text("Payment refused: 402")');
    expect(await page.textContent('#errors')).toContain('code card_declined');
    expect(JSON.parse((await page.textContent('#answer')) as string)).toEqual({
      errors: [expect.objectContaining({ code: 'card_declined' })],
    });
    expect((await paymentsOf(ctx.stack.service, orderId)).map((p) => p.status)).toEqual(['failed']);

    await page.check('input[data-number="4242424242424242"]');
    await page.click('#pay');
    await page.waitForSelector('#outcome-title:has-text("Paid: 201")');
    const statuses = (await paymentsOf(ctx.stack.service, orderId)).map((p) => p.status).sort();
    expect(statuses).toEqual(['failed', 'succeeded']);
    await page.close();
  });

  test('shows a refusal in the contract shape: paying an order twice answers 409', async () => {
    const page = await ctx.browser.newPage();
    await page.goto(ctx.site.url);
    await page.waitForSelector('text=Signed in as');
    await orderAt(page, '5');
    await page.click('#pay');
    await page.waitForSelector('#outcome-title:has-text("Paid: 201")');
    await page.click('#pay');
    await page.waitForSelector('#outcome-title:has-text("Payment refused: 409")');
    expect(await page.textContent('#errors')).toContain('code order_already_paid');
    await page.close();
  });
});
