import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPIV3 } from 'openapi-types';
import request, { type Response } from 'supertest';
import { openApiDocument } from '../../src/http/openapi';
import { consumed, published, Subjects } from '../../src/events/subjects';
import { createOrder, newId, newUser, sessionCookie, uniqueName, useStack } from '../support/harness';
import { expectDocumented, loadDocument, METHODS, schemaErrors } from '../support/openapi';

beforeAll(loadDocument);

const stack = useStack({ name: 'openapi' });

interface Layer {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  rawPath?: unknown;
}

/** METHOD /path of every route of the app, nested routers included, with `:id` written `{id}`. */
function appRoutes(stack: Layer[], prefix = ''): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) {
      const { path, methods } = layer.route;
      if (typeof path !== 'string') throw new Error(`cannot document a route path like ${String(path)}`);
      const openApiPath = `${prefix}${path}`.replace(/:(\w+)/g, '{$1}');
      return Object.keys(methods).map((m) => `${m.toUpperCase()} ${openApiPath}`);
    }
    if (layer.handle.stack) {
      if (typeof layer.rawPath !== 'string') throw new Error(`cannot read the mount path ${String(layer.rawPath)}`);
      return appRoutes(layer.handle.stack, prefix + (layer.rawPath === '/' ? '' : layer.rawPath));
    }
    return [];
  });
}

function documentedRoutes(doc: OpenAPIV3.Document): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item?.[m]).map((m) => `${m.toUpperCase()} ${path}`),
  );
}

describe('the OpenAPI document', () => {
  test('is a valid OpenAPI 3.0 document', async () => {
    await expect(SwaggerParser.validate(structuredClone(openApiDocument))).resolves.toBeDefined();
  });

  test('documents exactly the routes the app has', () => {
    const routes = appRoutes((stack.service.app.router as unknown as { stack: Layer[] }).stack);
    expect(routes.length).toBeGreaterThan(0);
    expect([...routes].sort()).toEqual(documentedRoutes(openApiDocument).sort());
  });

  test('describes every event subject, with examples the contract accepts', () => {
    const events = openApiDocument['x-events'];
    expect([...new Set([...Object.keys(events.consumed), ...Object.keys(events.published)])].sort()).toEqual(
      Object.values(Subjects).sort(),
    );
    for (const [subject, event] of Object.entries(events.consumed)) {
      expect(consumed[subject as keyof typeof consumed].safeParse(event.example).success).toBe(true);
    }
    for (const [subject, event] of Object.entries(events.published)) {
      expect(published[subject as keyof typeof published].safeParse(event.example).success).toBe(true);
    }
    for (const event of [...Object.values(events.consumed), ...Object.values(events.published)]) {
      expect(schemaErrors(event.payload, event.example)).toEqual([]);
    }
  });
});

describe('GET /api/payments/doc', () => {
  test('serves the document as JSON', async () => {
    const res = await request(stack.service.app).get('/api/payments/doc/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(openApiDocument)));
  });

  test('serves a Swagger UI page whose scripts and styles load, pointed at the document', async () => {
    const page = await request(stack.service.app).get('/api/payments/doc/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const assets = [...page.text.matchAll(/(?:src|href)="\.\/([^"]+)"/g)].flatMap((m) => (m[1] ? [m[1]] : []));
    expect(assets).toEqual(expect.arrayContaining(['swagger-ui-bundle.js', 'swagger-ui.css', 'swagger-ui-init.js']));
    for (const asset of assets) {
      const res = await request(stack.service.app).get(`/api/payments/doc/${asset}`);
      expect({ asset, status: res.status }).toEqual({ asset, status: 200 });
      if (asset.endsWith('.js')) expect(res.headers['content-type']).toMatch(/javascript/);
      if (asset.endsWith('.css')) expect(res.headers['content-type']).toMatch(/^text\/css/);
    }
    const init = await request(stack.service.app).get('/api/payments/doc/swagger-ui-init.js');
    expect(init.text).toContain('"swaggerUrl": "openapi.json"');
  });

  test('redirects the page asked without its trailing slash', async () => {
    const res = await request(stack.service.app).get('/api/payments/doc?x=1');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/api/payments/doc/?x=1');
  });
});

describe('real answers match the document', () => {
  const post = (cookie?: string) => {
    const req = request(stack.service.app).post('/api/payments');
    return cookie ? req.set('Cookie', cookie) : req;
  };

  test('201 for a paid order, and its replay', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 12.5 });
    const key = uniqueName('key');
    const res = await post(sessionCookie(user))
      .set('Idempotency-Key', key)
      .send({ token: 'tok_visa', orderId: order.id });
    expect(res.status).toBe(201);
    expectDocumented(res, '/api/payments', 'post');

    const replay = await post(sessionCookie(user))
      .set('Idempotency-Key', key)
      .send({ token: 'tok_visa', orderId: order.id });
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expectDocumented(replay, '/api/payments', 'post');
  });

  test('400, 401, 404, 409, 413 and 422 from POST /api/payments', async () => {
    const cookie = sessionCookie(newUser());
    const key = uniqueName('key');
    const answers = [
      await post(cookie).send({}),
      await post(cookie).set('Content-Type', 'application/json').send('{"token":'),
      await post(cookie).set('Idempotency-Key', 'k'.repeat(256)).send({ token: 'tok_visa', orderId: newId() }),
      await post().send({ token: 'tok_visa', orderId: newId() }),
      await post(cookie).set('Idempotency-Key', key).send({ token: 'tok_visa', orderId: newId() }),
      await post(cookie).set('Idempotency-Key', key).send({ token: 'tok_visa', orderId: newId() }),
      await post(cookie).send({ token: 'x'.repeat(17 * 1024), orderId: newId() }),
    ];
    expect(answers.map((r) => r.status)).toEqual([400, 400, 400, 401, 404, 422, 413]);
    for (const res of answers) expectDocumented(res, '/api/payments', 'post');

    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id });
    await post(sessionCookie(user)).send({ token: 'tok_visa', orderId: order.id }).expect(201);
    const again = await post(sessionCookie(user)).send({ token: 'tok_visa', orderId: order.id });
    expect(again.status).toBe(409);
    expectDocumented(again, '/api/payments', 'post');
  });

  test('reads, refunds and voids, with their errors', async () => {
    const user = newUser();
    const admin = sessionCookie(newUser('admin'));
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 30 });
    const paid = await post(sessionCookie(user)).send({ token: 'tok_visa', orderId: order.id });
    const id = paid.body.id as string;
    const app = () => request(stack.service.app);
    const check = async (res: Response, path: string, method: (typeof METHODS)[number], status: number) => {
      expect({ path, method, status: res.status }).toEqual({ path, method, status });
      expectDocumented(res, path, method);
    };
    await check(await app().get('/api/payments').set('Cookie', sessionCookie(user)), '/api/payments', 'get', 200);
    await check(await app().get('/api/payments?limit=0').set('Cookie', admin), '/api/payments', 'get', 400);
    await check(await app().get('/api/payments'), '/api/payments', 'get', 401);
    await check(await app().get(`/api/payments/${id}`).set('Cookie', admin), '/api/payments/{id}', 'get', 200);
    await check(await app().get(`/api/payments/${newId()}`).set('Cookie', admin), '/api/payments/{id}', 'get', 404);
    await check(await app().get('/api/payments/x').set('Cookie', admin), '/api/payments/{id}', 'get', 400);
    await check(
      await app().get(`/api/payments/${id}`).set('Cookie', sessionCookie(newUser())),
      '/api/payments/{id}',
      'get',
      401,
    );
    const refunds = '/api/payments/{id}/refunds';
    await check(
      await app().post(`/api/payments/${id}/refunds`).set('Cookie', admin).send({ amount: 1000 }),
      refunds,
      'post',
      201,
    );
    await check(
      await app().post(`/api/payments/${id}/refunds`).set('Cookie', admin).send({ amount: 0 }),
      refunds,
      'post',
      400,
    );
    await check(
      await app().post(`/api/payments/${id}/refunds`).set('Cookie', sessionCookie(user)).send({}),
      refunds,
      'post',
      401,
    );
    await check(
      await app().post(`/api/payments/${id}/refunds`).set('Cookie', admin).send({ amount: 9999 }),
      refunds,
      'post',
      409,
    );
    await check(
      await app().post(`/api/payments/${newId()}/refunds`).set('Cookie', admin).send({}),
      refunds,
      'post',
      404,
    );
    await check(await app().get(`/api/payments/${id}/refunds`).set('Cookie', sessionCookie(user)), refunds, 'get', 200);
    await check(await app().delete(`/api/payments/${id}`).set('Cookie', admin), '/api/payments/{id}', 'delete', 409);
    await check(
      await app().delete(`/api/payments/${id}`).set('Cookie', sessionCookie(user)),
      '/api/payments/{id}',
      'delete',
      401,
    );
    await check(
      await app().delete(`/api/payments/${newId()}`).set('Cookie', admin),
      '/api/payments/{id}',
      'delete',
      404,
    );
  });

  test('503 from the Stripe webhook when no secret is set', async () => {
    const res = await request(stack.service.app)
      .post('/api/payments/webhooks/stripe')
      .set('stripe-signature', 't=1,v1=00')
      .send({ id: 'evt_1', type: 'charge.refunded' });
    expect(res.status).toBe(503);
    expect(res.body.errors[0]).toMatchObject({ code: 'webhooks_not_configured' });
    expectDocumented(res, '/api/payments/webhooks/stripe', 'post');
  });

  test('the health answers', async () => {
    const ready = await request(stack.service.app).get('/api/payments/health');
    expect(ready.status).toBe(200);
    expectDocumented(ready, '/api/payments/health', 'get');
    const live = await request(stack.service.app).get('/api/payments/health/live');
    expect(live.status).toBe(200);
    expectDocumented(live, '/api/payments/health/live', 'get');
  });
});
