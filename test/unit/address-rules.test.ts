/** Which addresses outbound requests may reach: the deny list, mapped addresses, the allow list. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AddressPolicy,
  addressFamily,
  mappedIpv4,
  parseRange,
} from '../../src/net/address-rules.js';
import { ConfigError, checkConfig, defaultConfig, mergeConfig } from '../../src/config/config.js';

const DENIED = [
  '0.0.0.0',
  '10.1.2.3',
  '100.64.0.1',
  '127.0.0.1',
  '127.255.255.254',
  '169.254.169.254',
  '172.16.0.1',
  '172.31.255.255',
  '192.0.0.8',
  '192.0.2.1',
  '192.168.1.1',
  '198.18.0.1',
  '198.51.100.7',
  '203.0.113.9',
  '224.0.0.1',
  '240.0.0.1',
  '255.255.255.255',
  '::',
  '::1',
  '::127.0.0.1',
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '::ffff:10.0.0.1',
  '0:0:0:0:0:ffff:a9fe:a9fe',
  '64:ff9b::7f00:1',
  '100::1',
  '2001::1',
  '2001:db8::1',
  '2002:7f00:1::',
  'fc00::1',
  'fd12:3456::1',
  'fe80::1',
  'fe80::1%eth0',
  'fec0::1',
  'ff02::1',
];

const PUBLIC = [
  '1.1.1.1',
  '8.8.8.8',
  '93.184.216.34',
  '172.32.0.1',
  '100.128.0.1',
  '::ffff:8.8.8.8',
  '2606:4700:4700::1111',
  '2001:4860:4860::8888',
];

describe('address rules', () => {
  const policy = new AddressPolicy();

  it('denies every private, loopback, link-local and reserved address by default', () => {
    for (const address of DENIED) assert.equal(policy.permits(address), false, address);
  });

  it('permits public addresses, mapped ones included', () => {
    for (const address of PUBLIC) assert.equal(policy.permits(address), true, address);
  });

  it('refuses what is not an address', () => {
    for (const text of ['', 'localhost', '1.2.3', '::g', '[::1']) {
      assert.equal(policy.permits(text), false, text);
    }
  });

  it('reads IPv4-mapped IPv6 addresses in every spelling', () => {
    assert.equal(mappedIpv4('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(mappedIpv4('::ffff:7f00:1'), '127.0.0.1');
    assert.equal(mappedIpv4('0:0:0:0:0:ffff:c0a8:0101'), '192.168.1.1');
    assert.equal(mappedIpv4('[::ffff:8.8.8.8]'), '8.8.8.8');
    assert.equal(mappedIpv4('::1'), undefined);
    assert.equal(mappedIpv4('64:ff9b::7f00:1'), undefined);
    assert.equal(mappedIpv4('8.8.8.8'), undefined);
  });

  it('lets the allow list win over the deny list, range by range', () => {
    const allowing = new AddressPolicy({ allowed: ['127.0.0.1', 'fd00::/8'] });
    assert.equal(allowing.permits('127.0.0.1'), true);
    assert.equal(allowing.permits('::ffff:127.0.0.1'), true, 'mapped: judged as IPv4');
    assert.equal(allowing.permits('127.0.0.2'), false);
    assert.equal(allowing.permits('fd00::5'), true);
    assert.equal(allowing.permits('fc00::5'), false);
    assert.equal(allowing.permits('::1'), false);
  });

  it('adds the operator’s ranges to the defaults', () => {
    const stricter = new AddressPolicy({ extraDenied: ['8.8.8.0/24', '2606:4700::/32'] });
    assert.equal(stricter.permits('8.8.8.8'), false);
    assert.equal(stricter.permits('8.8.4.4'), true);
    assert.equal(stricter.permits('2606:4700:4700::1111'), false);
    assert.equal(stricter.permits('10.0.0.1'), false, 'the defaults stay');
  });

  it('parses ranges and refuses bad ones', () => {
    assert.deepEqual(parseRange('10.0.0.0/8'), { network: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseRange('::1'), { network: '::1', prefix: 128, family: 'ipv6' });
    for (const bad of ['10.0.0.0/33', '::/129', 'example.org', '10.0.0.0/8/1', '1.2.3.4/x', '']) {
      assert.throws(() => parseRange(bad), /not an IP address|prefix length/, bad);
    }
    assert.throws(() => new AddressPolicy({ allowed: ['nonsense'] }), /nonsense/);
  });

  it('tells address families apart', () => {
    assert.equal(addressFamily('127.0.0.1'), 'ipv4');
    assert.equal(addressFamily('[::1]'), 'ipv6');
    assert.equal(addressFamily('example.org'), undefined);
  });

  it('refuses a config naming a bad range, at startup', () => {
    const withRanges = (ranges: string[]) =>
      checkConfig(mergeConfig(defaultConfig(), { url_preview: { ip_range_whitelist: ranges } }));
    assert.throws(() => withRanges(['127.0.0.1', 'nope']), ConfigError);
    assert.throws(() => withRanges(['10.0.0.0/40']), /url_preview.ip_range_whitelist/);
    assert.deepEqual(withRanges(['127.0.0.1']).url_preview.ip_range_whitelist, ['127.0.0.1']);
  });
});
