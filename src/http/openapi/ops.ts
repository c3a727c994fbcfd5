import type { OpenAPIV3 } from 'openapi-types';
import { errorResponse, ref, requestIdHeader } from './common';

/** Health, metrics and this document. */
export const opsPaths: OpenAPIV3.PathsObject = {
  '/api/payments/health': {
    get: {
      tags: ['operations'],
      operationId: 'readiness',
      summary: 'Readiness: are MongoDB and NATS connected',
      responses: {
        '200': {
          description: 'Ready',
          headers: requestIdHeader,
          content: { 'application/json': { schema: ref('schemas', 'Health') } },
        },
        '503': {
          description: 'A dependency is down',
          headers: requestIdHeader,
          content: { 'application/json': { schema: ref('schemas', 'Health') } },
        },
      },
    },
  },
  '/api/payments/health/live': {
    get: {
      tags: ['operations'],
      operationId: 'liveness',
      summary: 'Liveness: the process answers',
      responses: {
        '200': {
          description: 'Alive',
          headers: requestIdHeader,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['status'],
                properties: { status: { type: 'string', enum: ['ok'] } },
              },
            },
          },
        },
      },
    },
  },
  '/metrics': {
    get: {
      tags: ['operations'],
      operationId: 'metrics',
      summary: 'Prometheus metrics',
      responses: {
        '200': {
          description: 'Prometheus text exposition format 0.0.4',
          headers: requestIdHeader,
          content: { 'text/plain': { schema: { type: 'string' } } },
        },
        '500': errorResponse('A gauge read from the database failed (`internal`)'),
      },
    },
  },
  '/api/payments/doc/openapi.json': {
    get: {
      tags: ['docs'],
      operationId: 'openApiDocument',
      summary: 'This document',
      responses: {
        '200': {
          description: 'OpenAPI 3.0 document',
          headers: requestIdHeader,
          content: { 'application/json': { schema: { type: 'object' } } },
        },
      },
    },
  },
  '/api/payments/doc/': {
    get: {
      tags: ['docs'],
      operationId: 'apiDocsPage',
      summary: 'Swagger UI for this document',
      description: 'Its scripts and styles are served next to it, e.g. `/api/payments/doc/swagger-ui-bundle.js`.',
      responses: {
        '200': {
          description: 'HTML page',
          headers: requestIdHeader,
          content: { 'text/html': { schema: { type: 'string' } } },
        },
        '301': {
          description: 'Asked without the trailing slash: redirects to it, so that the page finds its assets',
          headers: { ...requestIdHeader, Location: { schema: { type: 'string' } } },
        },
      },
    },
  },
};

export const opsSchemas: Record<string, OpenAPIV3.SchemaObject> = {
  Health: {
    type: 'object',
    required: ['status', 'dependencies'],
    properties: {
      status: { type: 'string', enum: ['ok', 'unavailable'] },
      dependencies: {
        type: 'object',
        required: ['mongo', 'nats'],
        properties: {
          mongo: { type: 'string', enum: ['up', 'down'] },
          nats: { type: 'string', enum: ['up', 'down'] },
        },
      },
    },
  },
};
