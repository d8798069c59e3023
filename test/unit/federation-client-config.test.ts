/** The federation client and listener options: federation.hosts as a free-form map, the listener's pair of files. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { checkConfig, ConfigError, defaultConfig, mergeConfig } from '../../src/config/config.js';
import { renderConfigYaml } from '../../src/config/generate.js';

const withFederation = (federation: object) =>
  checkConfig(mergeConfig(defaultConfig(), { federation } as never));

describe('federation client config', () => {
  it('takes federation.hosts whole: any server names, each to host:port', () => {
    const config = withFederation({
      hosts: {
        'peer.test': '127.0.0.1:8448',
        'b.test:8448': 'http://localhost:8008',
        c: 'https://[::1]:9',
      },
    });
    assert.deepEqual(config.federation.hosts, {
      'peer.test': '127.0.0.1:8448',
      'b.test:8448': 'http://localhost:8008',
      c: 'https://[::1]:9',
    });
    // A later layer replaces the map rather than adding to it.
    const again = mergeConfig(config, { federation: { hosts: { 'd.test': 'd:1' } } } as never);
    assert.deepEqual(again.federation.hosts, { 'd.test': 'd:1' });
    // Other sections still refuse unknown keys.
    assert.throws(() => withFederation({ listener: { nope: 1 } }), ConfigError);
  });

  it('refuses hosts entries that are no host:port, and hosts that is no mapping', () => {
    for (const bad of ['localhost', 'ftp://a:1', 'a:1/path', 'a:b', 'http://a']) {
      assert.throws(() => withFederation({ hosts: { 'x.test': bad } }), /federation\.hosts/, bad);
    }
    assert.throws(() => withFederation({ hosts: { 'x.test': 5 } }), /federation\.hosts/);
    assert.throws(() => withFederation({ hosts: ['a:1'] }), /federation\.hosts must be a mapping/);
  });

  it('checks the whitelist ranges, the listener port and its certificate with its key', () => {
    assert.deepEqual(
      withFederation({ ip_range_whitelist: ['127.0.0.0/8'] }).federation.ip_range_whitelist,
      ['127.0.0.0/8'],
    );
    assert.throws(() => withFederation({ ip_range_whitelist: ['nope'] }), /ip_range_whitelist/);
    assert.throws(() => withFederation({ listener: { port: 70000 } }), /listener\.port/);
    assert.throws(
      () => withFederation({ listener: { tls_certificate_path: '/a.crt' } }),
      /go together/,
    );
    const listener = {
      port: 8448,
      bind_address: '::',
      tls_certificate_path: '/a',
      tls_private_key_path: '/b',
    };
    assert.deepEqual(withFederation({ listener }).federation.listener, listener);
  });

  it('defaults: certificates verified, no private ranges, no overrides, no listener; written back by generate-config', () => {
    const federation = defaultConfig().federation;
    assert.equal(federation.verify_certificates, true);
    assert.equal(federation.ca_file, null);
    assert.deepEqual(federation.ip_range_whitelist, []);
    assert.deepEqual(federation.hosts, {});
    assert.equal(federation.listener.tls_certificate_path, '');
    const changed = withFederation({
      hosts: { 'a.test': 'http://127.0.0.1:1' },
      ca_file: '/ca.pem',
    });
    assert.deepEqual(mergeConfig(defaultConfig(), parse(renderConfigYaml(changed))), changed);
  });
});
