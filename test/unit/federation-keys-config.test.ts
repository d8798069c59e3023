import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, checkConfig, defaultConfig, mergeConfig } from '../../src/config/config.js';

const KEY = 'A'.repeat(43);

function check(federation: Record<string, unknown>) {
  return () => checkConfig(mergeConfig(defaultConfig(), { federation }));
}

describe('federation keys config', () => {
  it('defaults: no notary, a day of validity (Synapse key_refresh_interval), no old keys', () => {
    const { federation } = defaultConfig();
    assert.deepEqual(federation.trusted_key_servers, []);
    assert.equal(federation.key_validity_period_ms, 24 * 60 * 60 * 1000);
    assert.deepEqual(federation.old_signing_keys, []);
    checkConfig(defaultConfig());
  });

  it('takes notaries with or without keys, and old keys', () => {
    check({
      trusted_key_servers: [
        { server_name: 'matrix.org', verify_keys: { 'ed25519:auto': KEY } },
        { server_name: 'notary.example' },
      ],
      old_signing_keys: [{ key_id: 'ed25519:a_old', key: KEY, expired_ts: 1_600_000_000_000 }],
    })();
  });

  it('refuses what it could not use', () => {
    const bad: Record<string, unknown>[] = [
      { key_validity_period_ms: 1000 },
      { key_validity_period_ms: 1.5 * 60 * 60 * 1000 + 0.5 },
      { trusted_key_servers: [{}] },
      { trusted_key_servers: [{ server_name: '' }] },
      { trusted_key_servers: [{ server_name: 'n.example', verify_keys: ['x'] }] },
      { trusted_key_servers: [{ server_name: 'n.example', verify_keys: { 'rsa:1': KEY } }] },
      {
        trusted_key_servers: [{ server_name: 'n.example', verify_keys: { 'ed25519:1': 'short' } }],
      },
      { old_signing_keys: [{ key_id: 'ed25519:x', key: KEY }] },
      { old_signing_keys: [{ key_id: 'ed25519:x y', key: KEY, expired_ts: 1 }] },
      { old_signing_keys: [null] },
    ];
    for (const federation of bad) {
      assert.throws(check(federation), ConfigError, JSON.stringify(federation));
    }
  });
});
