import type { OpenAPIV3 } from 'openapi-types';
import { Subjects } from '../../events/subjects';
import { components } from './common';
import { deadLetterPaths, deadLetterSchemas } from './dead-letters';
import { deliveryPaths, deliverySchemas } from './deliveries';
import { events } from './events';
import { opsPaths, opsSchemas } from './ops';
import { paymentPaths, paymentSchemas } from './payments';
import { refundPaths, refundSchemas } from './refunds';
import { webhookPaths } from './webhooks';

/** Paths of several areas under one URL, each area's methods kept. */
function merge(...areas: OpenAPIV3.PathsObject[]): OpenAPIV3.PathsObject {
  const paths: OpenAPIV3.PathsObject = {};
  for (const area of areas) {
    for (const [path, item] of Object.entries(area)) paths[path] = { ...paths[path], ...item };
  }
  return paths;
}

const list = (subjects: object) =>
  Object.keys(subjects)
    .map((s) => `\`${s}\``)
    .join(', ');

/** The HTTP API of the service; test/http/openapi.test.ts holds it to the routes the app really has. */
export const openApiDocument: OpenAPIV3.Document & { 'x-events': typeof events } = {
  openapi: '3.0.3',
  info: {
    title: 'Ticketing payments service',
    version: '1.0.0',
    description: [
      'Charges ticketing orders through Stripe and tells the other services over NATS Streaming.',
      '',
      "Every answer carries `X-Request-Id`: the caller's own when it matches `^[A-Za-z0-9._-]{1,128}$`, else a new UUID.",
      'Every error has the ticketing shape `{ "errors": [{ "message", "field"?, "code"? }] }`.',
      '',
      'Events (payload schemas under `x-events`):',
      `- consumed: ${list(events.consumed)}`,
      `- published: ${list(events.published)}`,
      '',
      `Subjects are spelt as in \`src/events/subjects.ts\`, e.g. \`${Subjects.PaymentCreated}\`.`,
    ].join('\n'),
  },
  tags: [
    { name: 'payments', description: 'Charging orders and reading payments' },
    { name: 'refunds', description: 'Refunds and voids, for admins' },
    { name: 'provider', description: 'What the payment provider calls' },
    { name: 'callbacks', description: 'Callbacks to order services that were given up on, for admins' },
    { name: 'events', description: 'Consumed messages that were parked, for admins' },
    { name: 'operations', description: 'Health and metrics for the platform' },
    { name: 'docs', description: 'This document and its viewer' },
  ],
  paths: merge(paymentPaths, refundPaths, webhookPaths, deliveryPaths, deadLetterPaths, opsPaths),
  components: {
    ...components,
    schemas: {
      ...components.schemas,
      ...paymentSchemas,
      ...refundSchemas,
      ...deliverySchemas,
      ...deadLetterSchemas,
      ...opsSchemas,
    },
  },
  'x-events': events,
};
