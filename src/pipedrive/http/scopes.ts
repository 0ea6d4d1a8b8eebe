// The OAuth scopes each endpoint accepts, from Pipedrive's OpenAPI documents (scripts/extract-openapi.ts).
import { codeFile, readJson } from '../../airbyte/paths.js';

const OAUTH_SCOPES = readJson<Record<string, string[]>>(codeFile('pipedrive/http/oauth-scopes.json'));

/** The scopes of which a GET of `endpoint` needs any one (none known: empty). */
export const scopesOf = (endpoint: string): readonly string[] => OAUTH_SCOPES[`GET ${endpoint}`] ?? [];
