/**
 * GET /.well-known/matrix/support: 404 when nothing is configured; the configured
 * contacts and page, with CORS as /.well-known/matrix/client has; a bad `support`
 * section stops the server at start-up with a message naming the field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConfig, ConfigError, defaultConfig, mergeConfig } from '../../src/config/config.js';
import { withServer } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';

const PATH = '/.well-known/matrix/support';
const SPEC_PATH = '/.well-known/matrix/support';

const SUPPORT = {
  contacts: [
    { role: 'm.role.admin', matrix_id: '@admin:example.org', email_address: 'admin@example.org' },
    { role: 'm.role.security', email_address: 'security@example.org' },
  ],
  support_page: 'https://example.org/help',
};

describe('/.well-known/matrix/support', () => {
  it('answers 404 when nothing is configured', () =>
    withServer(async (fixture) => {
      expectError(await fixture.api.get(PATH), 404, 'M_NOT_FOUND');
    }));

  it('serves the configured contacts and page, with CORS headers', () =>
    withServer(
      async (fixture) => {
        const res = await fixture.api.get(PATH);
        assert.deepEqual(expectSpec(res, 'GET', SPEC_PATH), SUPPORT);
        assert.equal(res.headers.get('access-control-allow-origin'), '*');
        const client = await fixture.api.get('/.well-known/matrix/client');
        assert.equal(client.headers.get('access-control-allow-origin'), '*');
        const preflight = await fixture.api.request('OPTIONS', PATH, undefined, {
          headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' },
        });
        assert.ok(preflight.status < 300, `preflight: ${preflight.status}`);
        assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
      },
      { config: { support: SUPPORT } },
    ));

  // The prose allows namespaced roles; the schema's enum lists only the two m. ones.
  it('serves a namespaced role as configured', () => {
    const contacts = [{ role: 'org.example.moderation', matrix_id: '@mods:example.org' }];
    return withServer(
      async (fixture) => {
        assert.deepEqual((await fixture.api.get(PATH)).body, { contacts });
      },
      { config: { support: { contacts } } },
    );
  });

  it('serves a support page alone', () =>
    withServer(
      async (fixture) => {
        const res = await fixture.api.get(PATH);
        assert.deepEqual(expectSpec(res, 'GET', SPEC_PATH), {
          support_page: 'https://example.org/help',
        });
      },
      { config: { support: { support_page: 'https://example.org/help' } } },
    ));

  it('refuses a bad support section with a message naming the field', () => {
    const bad: [unknown, RegExp][] = [
      [{ contacts: [{ matrix_id: '@a:example.org' }] }, /support\.contacts\[0\]\.role/],
      [{ contacts: [{ role: 'admin', matrix_id: '@a:example.org' }] }, /contacts\[0\]\.role/],
      [{ contacts: [{ role: 'm.role.admin' }] }, /contacts\[0\] needs a matrix_id or an email/],
      [{ contacts: [{ role: 'm.role.admin', matrix_id: 'admin' }] }, /contacts\[0\]\.matrix_id/],
      [
        { contacts: [{ role: 'm.role.admin', email_address: 'x' }] },
        /contacts\[0\]\.email_address/,
      ],
      [{ contacts: [{ role: 'm.role.admin', email_address: 'a@b', phone: '1' }] }, /'phone'/],
      [{ contacts: ['admin@example.org'] }, /contacts\[0\] must be a mapping/],
      [{ support_page: 'example.org/help' }, /support\.support_page/],
    ];
    for (const [support, message] of bad) {
      assert.throws(
        () => checkConfig(mergeConfig(defaultConfig(), { support } as never)),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
        JSON.stringify(support),
      );
    }
    assert.throws(
      () => mergeConfig(defaultConfig(), { support: { contacts: 'me' } } as never),
      ConfigError,
    );
  });
});
