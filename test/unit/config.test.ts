import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  applyEnvironment,
  checkConfig,
  ConfigError,
  defaultConfig,
  mergeConfig,
  publicBaseUrl,
} from '../../src/config/config.js';
import { renderConfigYaml } from '../../src/config/generate.js';

describe('config', () => {
  it('the generated YAML parses back to the config it was made from', () => {
    const config = defaultConfig();
    // Every option is written out: the parsed file alone is the whole config.
    assert.deepEqual(parse(renderConfigYaml(config)), config);
    const changed = mergeConfig(defaultConfig(), { port: 9999, server_name: 'example.org' });
    assert.deepEqual(mergeConfig(defaultConfig(), parse(renderConfigYaml(changed))), changed);
  });

  it('refuses unknown options and wrong types', () => {
    assert.throws(() => mergeConfig(defaultConfig(), { nope: 1 } as never), ConfigError);
    assert.throws(() => mergeConfig(defaultConfig(), { port: 'x' } as never), ConfigError);
    assert.throws(
      () => mergeConfig(defaultConfig(), { registration: { enabled: 'yes' } } as never),
      ConfigError,
    );
  });

  it('lets the environment win over the file', () => {
    const fromFile = mergeConfig(defaultConfig(), { server_name: 'a.example', port: 1234 });
    const config = applyEnvironment(fromFile, {
      WEFT_SERVER_NAME: 'b.example',
      WEFT_PORT: '9000',
      WEFT_BIND: '0.0.0.0',
      WEFT_DATA_DIR: '/tmp/x',
      WEFT_RATE_LIMITS: 'off',
    });
    assert.equal(config.server_name, 'b.example');
    assert.equal(config.port, 9000);
    assert.equal(config.bind, '0.0.0.0');
    assert.equal(config.data_dir, '/tmp/x');
    assert.equal(config.rate_limits.enabled, false);
    assert.equal(fromFile.rate_limits.enabled, true, 'the input is not changed');
    assert.throws(() => applyEnvironment(fromFile, { WEFT_PORT: 'eighty' }), ConfigError);
    assert.throws(() => applyEnvironment(fromFile, { WEFT_RATE_LIMITS: 'maybe' }), ConfigError);
  });

  it('refuses TURN options that cannot work', () => {
    const voip = (over: Partial<ReturnType<typeof defaultConfig>['voip']>) =>
      checkConfig(mergeConfig(defaultConfig(), { voip: over }));
    assert.equal(
      voip({ turn_uris: ['turn:a.example', 'turns:b.example'] }).voip.turn_uris.length,
      2,
    );
    for (const bad of [
      { turn_uris: ['https://a.example'] },
      { turn_shared_secret: '' },
      { turn_username: 'only-a-name' },
      { turn_user_lifetime_ms: 10 },
    ]) {
      assert.throws(() => voip(bad), ConfigError, JSON.stringify(bad));
    }
  });

  it('derives the public base URL', () => {
    assert.equal(publicBaseUrl(defaultConfig()), 'http://127.0.0.1:8008');
    assert.equal(
      publicBaseUrl(mergeConfig(defaultConfig(), { public_baseurl: 'https://m.example/' })),
      'https://m.example',
    );
  });
});
