import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { Ajv } from 'ajv';
import { specViolations } from '../acceptance/rules.js';
import type { ConnectorSpecification } from '../src/generated/airbyte-protocol.js';
import { ofType, runCli } from './helpers/cli.js';

const specFile = JSON.parse(readFileSync(new URL('../spec.json', import.meta.url), 'utf8')) as ConnectorSpecification;

describe('spec', () => {
  it('prints exactly spec.json as the one SPEC message, exit 0 (CAT test_match_expected)', async () => {
    const run = await runCli(['spec']);
    expect(run.exitCode).to.equal(0);
    expect(run.messages).to.have.length(1);
    expect(ofType(run, 'SPEC')[0]!.spec).to.deep.equal(specFile);
  });

  it("is a valid JSON schema by JSON Schema's meta-schema (the connector compiles it without checking)", () => {
    const ajv = new Ajv({ strict: false });
    expect(ajv.validateSchema(specFile.connectionSpecification), JSON.stringify(ajv.errors)).to.equal(true);
    const broken = { ...specFile.connectionSpecification, required: 'api_token' };
    expect(ajv.validateSchema(broken)).to.equal(false);
  });

  it('passes the static spec rules of the acceptance tests', () => {
    expect(specViolations(specFile)).to.deep.equal([]);
  });

  it('the rule checker catches what CAT would reject', () => {
    const broken = structuredClone(specFile) as {
      connectionSpecification: { properties: Record<string, Record<string, unknown>> };
    };
    const properties = broken.connectionSpecification.properties;
    delete properties.api_token!.airbyte_secret;
    properties.page_size!.type = ['integer', 'string'];
    properties.base_url!.anyOf = [{ type: 'string' }];
    properties.start_date!.order = properties.company_domain!.order;
    (properties.credentials!.oneOf as unknown[]).reverse();
    (broken as unknown as { advanced_auth: { predicate_key: string[] } }).advanced_auth.predicate_key = ['auth', 'x'];
    const violations = specViolations(broken as unknown as ConnectorSpecification).join('\n');
    expect(violations).to.match(/api_token: must be marked airbyte_secret/);
    expect(violations).to.match(/page_size: a type array/);
    expect(violations).to.match(/forbidden keyword anyOf/);
    expect(violations).to.match(/duplicate order/);
    expect(violations).to.match(/predicate_key auth.x is not in the spec/);
  });

  it('offers OAuth first and an API token second, with every secret marked, for the platform to run the OAuth flow', () => {
    const credentials = (
      specFile.connectionSpecification as {
        properties: {
          credentials: { oneOf: { properties: Record<string, { const?: string; airbyte_secret?: boolean }> }[] };
        };
      }
    ).properties.credentials;
    expect(credentials.oneOf.map((variant) => variant.properties.auth_type?.const)).to.deep.equal([
      'oauth2.0',
      'api_token',
    ]);
    const [oauth, token] = credentials.oneOf;
    for (const secret of ['client_id', 'client_secret', 'refresh_token'])
      expect(oauth!.properties[secret]!.airbyte_secret, secret).to.equal(true);
    expect(token!.properties.api_token!.airbyte_secret).to.equal(true);
    expect(specFile.advanced_auth).to.deep.include({
      auth_flow_type: 'oauth2.0',
      predicate_key: ['credentials', 'auth_type'],
      predicate_value: 'oauth2.0',
    });
  });

  it('documents every property with a title and a description; requires none (credentials, or the legacy api_token, is checked in code)', () => {
    const schema = specFile.connectionSpecification as {
      required: string[];
      properties: Record<string, { title?: string; description?: string }>;
    };
    expect(schema.required).to.deep.equal([]);
    for (const [name, property] of Object.entries(schema.properties)) {
      expect(property.title, name).to.be.a('string').and.not.have.length(0);
      expect(property.description, name).to.be.a('string').and.not.have.length(0);
    }
  });

  it('accepts a full example configuration, and every documented example of a property (CAT test_config_match_spec)', () => {
    const validate = new Ajv({ strict: false }).compile(specFile.connectionSpecification);
    const full = {
      api_token: 'x'.repeat(40),
      company_domain: 'acme',
      start_date: '2024-01-01T00:00:00Z',
      lookback_window_minutes: 10,
      page_size: 500,
      max_concurrent_streams: 3,
      request_timeout_seconds: 60,
      max_retries: 5,
      base_url: 'https://proxy.example.com',
    };
    expect(validate(full), JSON.stringify(validate.errors)).to.equal(true);
    const properties = (specFile.connectionSpecification as { properties: Record<string, { examples?: unknown[] }> })
      .properties;
    for (const [name, property] of Object.entries(properties)) {
      for (const example of property.examples ?? [])
        expect(validate({ api_token: 't', [name]: example }), `${name}=${String(example)}`).to.equal(true);
    }
  });
});
