import type { SwaggerTransform, SwaggerTransformObject } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import type { ZodType } from 'zod';

/** Marks an operation whose zod body accepts no body at all (`.nullish()`: Fastify validates a missing body as null), until the document is built. */
const OPTIONAL_BODY = 'x-emporium-optional-body';

const acceptsNoBody = (body: unknown): boolean =>
  typeof (body as ZodType | undefined)?.safeParse === 'function' && (body as ZodType).safeParse(null).success;

/**
 * Route schema → OpenAPI, as fastify-type-provider-zod does it, remembering which bodies are optional:
 * @fastify/swagger marks every request body required.
 */
export const openApiTransform: SwaggerTransform = (input) => {
  const transformed = jsonSchemaTransform(input as Parameters<typeof jsonSchemaTransform>[0]);
  if (!acceptsNoBody(input.schema?.body)) return transformed;
  return { ...transformed, schema: { ...transformed.schema, [OPTIONAL_BODY]: true } };
};

type Operation = { requestBody?: { required?: boolean }; [OPTIONAL_BODY]?: boolean };

/** The document, with components (see jsonSchemaTransformObject) and optional bodies not required. */
export const openApiTransformObject: SwaggerTransformObject = (input) => {
  const document = jsonSchemaTransformObject(input) as { paths?: Record<string, Record<string, Operation>> };
  for (const operations of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      if (typeof operation !== 'object' || operation === null || !(OPTIONAL_BODY in operation)) continue;
      delete operation[OPTIONAL_BODY];
      if (operation.requestBody) operation.requestBody.required = false;
    }
  }
  return document;
};
