/** The server name grammar (spec appendix "Server name"). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatServerName, hostForUrl, parseServerName } from '../../src/federation/server-name.js';

describe('server names', () => {
  it('parses host names, IPv4 and bracketed IPv6 literals, with or without a port', () => {
    assert.deepEqual(parseServerName('matrix.org'), { host: 'matrix.org', kind: 'dns' });
    assert.deepEqual(parseServerName('matrix.org:8888'), {
      host: 'matrix.org',
      kind: 'dns',
      port: 8888,
    });
    assert.deepEqual(parseServerName('localhost'), { host: 'localhost', kind: 'dns' });
    assert.deepEqual(parseServerName('my-host.example-1.com'), {
      host: 'my-host.example-1.com',
      kind: 'dns',
    });
    assert.deepEqual(parseServerName('1.2.3.4'), { host: '1.2.3.4', kind: 'ipv4' });
    assert.deepEqual(parseServerName('1.2.3.4:1234'), {
      host: '1.2.3.4',
      kind: 'ipv4',
      port: 1234,
    });
    assert.deepEqual(parseServerName('[1234:5678::abcd]'), {
      host: '1234:5678::abcd',
      kind: 'ipv6',
    });
    assert.deepEqual(parseServerName('[::1]:5678'), { host: '::1', kind: 'ipv6', port: 5678 });
    assert.deepEqual(parseServerName('[::ffff:1.2.3.4]'), { host: '::ffff:1.2.3.4', kind: 'ipv6' });
  });

  it('takes ports 1 to 65535 only', () => {
    assert.equal(parseServerName('example.org:1')?.port, 1);
    assert.equal(parseServerName('example.org:65535')?.port, 65535);
    for (const bad of [
      'example.org:0',
      'example.org:65536',
      'example.org:123456',
      'example.org:',
    ]) {
      assert.equal(parseServerName(bad), undefined, bad);
    }
    assert.equal(parseServerName('[::1]:0'), undefined);
  });

  it('refuses what the grammar does not allow', () => {
    const bad = [
      '',
      ':8448',
      'exa mple.org',
      'example.org/path',
      'user@example.org',
      'example_org',
      'example.org:port',
      'example.org:-1',
      'example.org:+80',
      '::1', // IPv6 without brackets
      '[::1',
      '[::1]x',
      '[not:an:ip]',
      '[example.org]',
      '1.2.3.999', // a dotted quad that is no IPv4 address
      '1.2.3.4:80:80',
      'a'.repeat(256),
      'ünicode.org',
    ];
    for (const name of bad) assert.equal(parseServerName(name), undefined, name);
    // 255 characters is the longest a DNS name may be written.
    assert.equal(parseServerName('a'.repeat(255))?.kind, 'dns');
  });

  it('writes names back, IPv6 in brackets', () => {
    for (const name of ['example.org', 'example.org:8448', '1.2.3.4:80', '[::1]', '[::1]:8448']) {
      assert.equal(formatServerName(parseServerName(name)!), name);
    }
    assert.equal(hostForUrl('::1'), '[::1]');
    assert.equal(hostForUrl('example.org'), 'example.org');
  });
});
