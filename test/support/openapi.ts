import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv from 'ajv';
import type { OpenAPIV3 } from 'openapi-types';
import type { Response } from 'supertest';
import { openApiDocument } from '../../src/http/openapi';

export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

let api: OpenAPIV3.Document | undefined;

/** Reads the document with every $ref resolved; call it in beforeAll before expectDocumented. */
export async function loadDocument(): Promise<void> {
  api ??= (await SwaggerParser.dereference(structuredClone(openApiDocument))) as OpenAPIV3.Document;
}

const ajv = new Ajv({ allErrors: true });
ajv.addVocabulary(['example']);
ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);

export function schemaErrors(schema: object, value: unknown) {
  const validate = ajv.compile(schema);
  return validate(value) ? [] : validate.errors;
}

/** Checks an answer against what the document promises for that path, method and status. */
export function expectDocumented(res: Response, path: string, method: (typeof METHODS)[number]) {
  if (!api) throw new Error('loadDocument() first');
  const operation = api.paths[path]?.[method];
  const documented = operation?.responses[String(res.status)] as OpenAPIV3.ResponseObject | undefined;
  expect({ path, method, status: res.status, documented: Boolean(documented) }).toEqual(
    expect.objectContaining({ documented: true }),
  );
  const headers = (documented?.headers ?? {}) as Record<string, OpenAPIV3.HeaderObject>;
  expect(res.headers['x-request-id']).toBeDefined();
  for (const [name, header] of Object.entries(headers)) {
    const value: unknown = res.headers[name.toLowerCase()];
    if (value !== undefined) expect(schemaErrors(header.schema as object, value)).toEqual([]);
  }
  const media = documented?.content?.['application/json'];
  expect(media).toBeDefined();
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(schemaErrors(media?.schema as object, res.body)).toEqual([]);
}
