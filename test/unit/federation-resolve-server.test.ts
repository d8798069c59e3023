/**
 * The spec's steps for resolving a server name, in their order, with the
 * well-known and SRV lookups answered by the test (every lookup made is
 * recorded, so a step that asks what it should not fails too).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cachedSrvLookup,
  orderSrv,
  parseHostOverride,
  resolveServerName,
  ServerResolver,
  type DiscoveryLookups,
  type SrvRecord,
} from '../../src/federation/resolve-server.js';
import { FederationUnreachable } from '../../src/federation/outbound.js';

/** Lookups answering from tables; `asked` lists every lookup in order. */
function lookups(
  wellKnown: Record<string, string> = {},
  srv: Record<string, SrvRecord[]> = {},
): DiscoveryLookups & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    wellKnown: async (host) => {
      asked.push(`well-known ${host}`);
      return wellKnown[host];
    },
    srv: async (name) => {
      asked.push(`srv ${name}`);
      return srv[name] ?? [];
    },
  };
}

const record = (name: string, port: number, priority = 10, weight = 10): SrvRecord => ({
  name,
  port,
  priority,
  weight,
});

const https = (host: string, port: number, tlsServerName: string, hostHeader: string) => ({
  host,
  port,
  tlsServerName,
  hostHeader,
  scheme: 'https',
});

describe('resolving server names', () => {
  it('(1) an IP literal: that address, its port or 8448, Host the server name; nothing looked up', async () => {
    const l = lookups();
    assert.deepEqual(
      await resolveServerName('1.2.3.4', l),
      https('1.2.3.4', 8448, '1.2.3.4', '1.2.3.4'),
    );
    assert.deepEqual(
      await resolveServerName('1.2.3.4:8000', l),
      https('1.2.3.4', 8000, '1.2.3.4', '1.2.3.4:8000'),
    );
    assert.deepEqual(
      await resolveServerName('[2001:db8::1]:8000', l),
      https('2001:db8::1', 8000, '2001:db8::1', '[2001:db8::1]:8000'),
    );
    assert.deepEqual(l.asked, []);
  });

  it('(2) a host name with a port: that host and port, Host with the port; nothing looked up', async () => {
    const l = lookups({ 'example.org': 'elsewhere.org' });
    assert.deepEqual(
      await resolveServerName('example.org:8000', l),
      https('example.org', 8000, 'example.org', 'example.org:8000'),
    );
    assert.deepEqual(l.asked, []);
  });

  it('(3.1) a delegated IP literal: that address, Host the IP (with its port)', async () => {
    const l = lookups({ 'example.org': '5.6.7.8:9000', 'example.net': '[2001:db8::2]' });
    assert.deepEqual(
      await resolveServerName('example.org', l),
      https('5.6.7.8', 9000, '5.6.7.8', '5.6.7.8:9000'),
    );
    assert.deepEqual(
      await resolveServerName('example.net', l),
      https('2001:db8::2', 8448, '2001:db8::2', '[2001:db8::2]'),
    );
    assert.deepEqual(l.asked, ['well-known example.org', 'well-known example.net']);
  });

  it('(3.2) a delegated host with a port: no SRV, certificate and Host of the delegated name', async () => {
    const l = lookups(
      { 'example.org': 'matrix.example.org:443' },
      { '_matrix-fed._tcp.matrix.example.org': [record('srv.example.org', 1)] },
    );
    assert.deepEqual(
      await resolveServerName('example.org', l),
      https('matrix.example.org', 443, 'matrix.example.org', 'matrix.example.org:443'),
    );
    assert.deepEqual(l.asked, ['well-known example.org']);
  });

  it('(3.3) a delegated host without a port: its _matrix-fed SRV, certificate and Host still the delegated name', async () => {
    const l = lookups(
      { 'example.org': 'matrix.example.org' },
      {
        '_matrix-fed._tcp.matrix.example.org': [record('fed.example.org.', 8449)],
        '_matrix._tcp.matrix.example.org': [record('old.example.org', 1)],
      },
    );
    assert.deepEqual(
      await resolveServerName('example.org', l),
      https('fed.example.org', 8449, 'matrix.example.org', 'matrix.example.org'),
    );
    assert.deepEqual(l.asked, [
      'well-known example.org',
      'srv _matrix-fed._tcp.matrix.example.org',
    ]);
  });

  it('(3.4) then the deprecated _matrix SRV of the delegated name', async () => {
    const l = lookups(
      { 'example.org': 'matrix.example.org' },
      { '_matrix._tcp.matrix.example.org': [record('old.example.org', 8450)] },
    );
    assert.deepEqual(
      await resolveServerName('example.org', l),
      https('old.example.org', 8450, 'matrix.example.org', 'matrix.example.org'),
    );
    assert.deepEqual(l.asked, [
      'well-known example.org',
      'srv _matrix-fed._tcp.matrix.example.org',
      'srv _matrix._tcp.matrix.example.org',
    ]);
  });

  it("(3.5) then the delegated name on 8448; the server name's own SRV is never asked", async () => {
    const l = lookups(
      { 'example.org': 'matrix.example.org' },
      { '_matrix-fed._tcp.example.org': [record('wrong.example.org', 1)] },
    );
    assert.deepEqual(
      await resolveServerName('example.org', l),
      https('matrix.example.org', 8448, 'matrix.example.org', 'matrix.example.org'),
    );
    assert.ok(!l.asked.includes('srv _matrix-fed._tcp.example.org'));
  });

  it('(4) no well-known: the _matrix-fed SRV of the server name, certificate and Host the server name', async () => {
    const l = lookups({}, { '_matrix-fed._tcp.example.org': [record('fed.example.org', 8443)] });
    assert.deepEqual(
      await resolveServerName('example.org', l),
      https('fed.example.org', 8443, 'example.org', 'example.org'),
    );
    assert.deepEqual(l.asked, ['well-known example.org', 'srv _matrix-fed._tcp.example.org']);
  });

  it('(5) then the deprecated _matrix SRV, (6) then the server name on 8448', async () => {
    const l5 = lookups({}, { '_matrix._tcp.example.org': [record('old.example.org', 8444)] });
    assert.deepEqual(
      await resolveServerName('example.org', l5),
      https('old.example.org', 8444, 'example.org', 'example.org'),
    );
    const l6 = lookups();
    assert.deepEqual(
      await resolveServerName('example.org', l6),
      https('example.org', 8448, 'example.org', 'example.org'),
    );
    assert.deepEqual(l6.asked, [
      'well-known example.org',
      'srv _matrix-fed._tcp.example.org',
      'srv _matrix._tcp.example.org',
    ]);
  });

  it('an invalid delegated name is no delegation: on to step 4', async () => {
    for (const bad of ['not a name', 'example.org:99999', '[::1', '']) {
      const l = lookups({ 'example.org': bad });
      assert.deepEqual(
        await resolveServerName('example.org', l),
        https('example.org', 8448, 'example.org', 'example.org'),
        bad,
      );
    }
  });

  it('an SRV answer of "." (no service) counts as none', async () => {
    const l = lookups({}, { '_matrix-fed._tcp.example.org': [record('.', 0)] });
    assert.equal((await resolveServerName('example.org', l))?.port, 8448);
  });

  it('an invalid server name resolves to nothing', async () => {
    assert.equal(await resolveServerName('bad name', lookups()), undefined);
  });
});

describe('SRV order', () => {
  it('lowest priority first; within one, by weight', () => {
    const records = [record('c', 3, 20, 1), record('a', 1, 10, 0), record('b', 2, 10, 5)];
    // Any random draw: the only weighted record of priority 10 comes first, the zero weight after it.
    for (const draw of [0, 0.5, 0.999]) {
      assert.deepEqual(
        orderSrv(records, () => draw).map((r) => r.name),
        ['b', 'a', 'c'],
      );
    }
  });

  it('picks in proportion to weight', () => {
    const records = [record('light', 1, 0, 1), record('heavy', 2, 0, 3)];
    assert.equal(orderSrv(records, () => 0.2)[0]!.name, 'light');
    assert.equal(orderSrv(records, () => 0.3)[0]!.name, 'heavy');
    assert.deepEqual(
      orderSrv(records, () => 0.9).map((r) => r.name),
      ['heavy', 'light'],
    );
  });
});

describe('federation.hosts overrides', () => {
  it('parse host:port with an optional scheme', () => {
    assert.deepEqual(parseHostOverride('127.0.0.1:8448'), {
      scheme: 'https',
      host: '127.0.0.1',
      port: 8448,
    });
    assert.deepEqual(parseHostOverride('http://localhost:8008'), {
      scheme: 'http',
      host: 'localhost',
      port: 8008,
    });
    assert.deepEqual(parseHostOverride('https://[::1]:9'), {
      scheme: 'https',
      host: '::1',
      port: 9,
    });
    for (const bad of ['localhost', 'ftp://a:1', 'http://a', 'a:0', 'http://a:1/path']) {
      assert.throws(() => parseHostOverride(bad), /host:port/, bad);
    }
  });

  it('skip discovery: connect there, certificate and Host of the server name', async () => {
    const l = lookups({ 'peer.test': 'elsewhere.test' });
    const resolver = new ServerResolver(
      { 'peer.test': '127.0.0.1:9999', 'plain.test:8008': 'http://127.0.0.1:8008' },
      l,
    );
    assert.deepEqual(
      await resolver.resolve('peer.test'),
      https('127.0.0.1', 9999, 'peer.test', 'peer.test'),
    );
    assert.deepEqual(await resolver.resolve('plain.test:8008'), {
      host: '127.0.0.1',
      port: 8008,
      tlsServerName: 'plain.test',
      hostHeader: 'plain.test:8008',
      scheme: 'http',
    });
    assert.equal(resolver.isOverridden('peer.test'), true);
    assert.equal(resolver.isOverridden('other.test'), false);
    assert.deepEqual(l.asked, []);
    // Others are discovered.
    assert.equal((await resolver.resolve('other.test')).host, 'other.test');
    await assert.rejects(resolver.resolve('not valid'), FederationUnreachable);
  });

  it('a bad entry is refused when the resolver is made', () => {
    assert.throws(() => new ServerResolver({ 'a.test': 'nowhere' }, lookups()), /host:port/);
  });
});

describe('the SRV cache', () => {
  it('remembers answers and "no such name" for an hour, not failures', async () => {
    let now = 0;
    const calls: string[] = [];
    const answers: Record<string, () => Promise<SrvRecord[]>> = {
      'a.test': async () => [record('x.test', 1)],
      'none.test': async () =>
        Promise.reject(Object.assign(new Error('no'), { code: 'ENOTFOUND' })),
      'flaky.test': async () => Promise.reject(Object.assign(new Error('t'), { code: 'ETIMEOUT' })),
    };
    const lookup = cachedSrvLookup(
      (name) => {
        calls.push(name);
        return answers[name]!();
      },
      () => now,
    );
    for (let i = 0; i < 2; i++) {
      assert.equal((await lookup('a.test'))[0]!.name, 'x.test');
      assert.deepEqual(await lookup('none.test'), []);
      assert.deepEqual(await lookup('flaky.test'), []);
    }
    assert.deepEqual(calls, ['a.test', 'none.test', 'flaky.test', 'flaky.test']);
    now = 3600_001;
    await lookup('a.test');
    assert.equal(calls.at(-1), 'a.test');
  });
});
