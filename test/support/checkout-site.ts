import type { Browser } from 'playwright-core';
import { startCheckoutSite, TEST_CARDS, type CheckoutSite } from '../../scripts/demo/site';
import { launchBrowser } from './browser';
import { createOrder, JWT_KEY, newUser, useStack, type Stack } from './harness';

/**
 * For a browser test file: the service on localstripe (it declines cards), the demo's checkout
 * site in front of it as the ingress would be, and a headless chromium.
 */
export function useCheckout(name: string) {
  const stack: Stack = useStack({ name, proxyTo: 'localstripe' });
  const demoUser = newUser();
  const ctx = { stack, demoUser, cards: TEST_CARDS.localstripe } as {
    stack: Stack;
    demoUser: typeof demoUser;
    cards: typeof TEST_CARDS.localstripe;
    site: CheckoutSite;
    browser: Browser;
  };
  beforeAll(async () => {
    ctx.site = await startCheckoutSite({
      serviceUrl: stack.service.url,
      jwtKey: JWT_KEY,
      cards: TEST_CARDS.localstripe,
      demoUser: { id: demoUser.id, email: demoUser.email },
      createOrder: (userId, price) => createOrder(stack.peer, stack.service, { userId, price }),
    });
    ctx.browser = await launchBrowser();
  });
  afterAll(async () => {
    await ctx.browser?.close();
    await ctx.site?.close();
  });
  return ctx;
}
