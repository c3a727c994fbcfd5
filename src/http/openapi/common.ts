import type { OpenAPIV3 } from 'openapi-types';

export const ref = (kind: 'schemas' | 'responses' | 'headers' | 'parameters', name: string) => ({
  $ref: `#/components/${kind}/${name}`,
});

export const requestIdHeader = { 'X-Request-Id': ref('headers', 'RequestId') };
// Only answers the idempotency store keeps can come back replayed; see src/http/idempotency.ts.
export const replayableHeaders = { ...requestIdHeader, 'Idempotent-Replayed': ref('headers', 'IdempotentReplayed') };

export function errorResponse(description: string, replayable = false): OpenAPIV3.ResponseObject {
  return {
    description,
    headers: replayable ? replayableHeaders : requestIdHeader,
    content: { 'application/json': { schema: ref('schemas', 'Errors') } },
  };
}

export function jsonResponse(description: string, schema: string, replayable = false): OpenAPIV3.ResponseObject {
  return {
    description,
    headers: replayable ? replayableHeaders : requestIdHeader,
    content: { 'application/json': { schema: ref('schemas', schema) } },
  };
}

export const objectId = { type: 'string', pattern: '^[0-9a-fA-F]{24}$', example: '6650c3f2a1b2c3d4e5f60718' } as const;

export const components: Pick<OpenAPIV3.ComponentsObject, 'securitySchemes' | 'parameters' | 'headers' | 'schemas'> = {
  securitySchemes: {
    sessionCookie: {
      type: 'apiKey',
      in: 'cookie',
      name: 'session',
      description: 'The ticketing session cookie set by the auth service: base64 of `{"jwt": "<HS256 JWT>"}`',
    },
    bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The same HS256 JWT' },
  },
  parameters: {
    IdempotencyKey: {
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: 'Makes retries safe: kept per user for IDEMPOTENCY_KEY_TTL_MS (24 h by default)',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    },
    PaymentId: { name: 'id', in: 'path', required: true, schema: objectId },
  },
  headers: {
    RequestId: {
      description: 'The id of this request in the logs',
      schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
    },
    IdempotentReplayed: {
      description: 'Present, with `true`, when the answer is a replay of an earlier request with the same key',
      schema: { type: 'string', enum: ['true'] },
    },
  },
  schemas: {
    Errors: {
      type: 'object',
      required: ['errors'],
      additionalProperties: false,
      properties: {
        errors: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['message'],
            additionalProperties: false,
            properties: {
              message: { type: 'string' },
              field: { type: 'string' },
              code: { type: 'string' },
            },
          },
        },
      },
    },
  },
};
