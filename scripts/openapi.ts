// Pipedrive's official OpenAPI documents (vendor/pipedrive-openapi/), read for what this project takes from them: each
// endpoint's `x-token-cost`, its OAuth scopes and its example record.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';

type Operation = {
  'x-token-cost'?: number;
  security?: Record<string, string[]>[];
  responses: Record<string, { content?: Record<string, { example?: unknown }> } | undefined>;
};
type Document = { paths: Record<string, { get?: Operation } | undefined> };

const load = (file: string) =>
  yaml.load(readFileSync(new URL(`../vendor/pipedrive-openapi/${file}`, import.meta.url), 'utf8')) as Document;

/** The documented GET operation of an endpoint as the connector requests it (`/v1/…` or `/api/v2/…`). */
export function openApiOperation(endpoint: string): Operation {
  const v2 = endpoint.startsWith('/api/v2/');
  const document = v2 ? (documents.v2 ??= load('v2-openapi.yaml')) : (documents.v1 ??= load('v1-openapi.yaml'));
  const path = endpoint.replace(/^\/(api\/v2|v1)/, '');
  const operation = document.paths[path]?.get;
  if (!operation) throw new Error(`GET ${endpoint} is not in Pipedrive's ${v2 ? 'v2' : 'v1'} OpenAPI document`);
  return operation;
}

const documents: { v1?: Document; v2?: Document } = {};

/** An endpoint's documented `x-token-cost`. */
export function documentedCost(endpoint: string): number {
  const cost = openApiOperation(endpoint)['x-token-cost'];
  if (typeof cost !== 'number') throw new Error(`GET ${endpoint} has no x-token-cost`);
  return cost;
}

/** The OAuth scopes of which an endpoint needs any one (e.g. `deals:read` or `deals:full`). */
export function documentedScopes(endpoint: string): string[] {
  const scopes = openApiOperation(endpoint).security?.find((scheme) => scheme.oauth2)?.oauth2;
  if (!scopes?.length) throw new Error(`GET ${endpoint} documents no OAuth scope`);
  return scopes;
}
