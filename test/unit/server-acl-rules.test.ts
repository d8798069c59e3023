/**
 * Server ACL rules (federation/server-acl-rules.ts) against the spec's
 * examples: the `m.room.server_acl` event's, its order of checks, ports
 * ignored, globs, case-insensitivity (v1.19) and the defaults.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  globToRegExp,
  isServerAllowed,
  parseServerAcl,
} from '../../src/federation/server-acl-rules.js';

const allowed = (content: unknown, server: string) =>
  isServerAllowed(parseServerAcl(content), server);

describe('server ACL rules', () => {
  // The spec's example event (m.room.server_acl).
  const example = { allow: ['*'], allow_ip_literals: false, deny: ['*.evil.com', 'evil.com'] };

  it('allows every server when the room has no ACL', () => {
    assert.equal(isServerAllowed(undefined, 'evil.com'), true);
    assert.equal(isServerAllowed(undefined, '1.2.3.4'), true);
  });

  it('follows the spec example: deny entries before allow, IP literals refused', () => {
    assert.equal(allowed(example, 'matrix.org'), true);
    assert.equal(allowed(example, 'evil.com'), false);
    assert.equal(allowed(example, 'sub.evil.com'), false);
    assert.equal(allowed(example, 'very.deep.evil.com'), false);
    // `*.evil.com` needs the dot: a name merely ending in evil.com is another server.
    assert.equal(allowed(example, 'notevil.com'), true);
    assert.equal(allowed(example, '1.2.3.4'), false);
    assert.equal(allowed(example, '[2001:db8::1]'), false);
    assert.equal(allowed(example, '[2001:db8::1]:8448'), false);
  });

  it('ignores the port: evil.com, evil.com:8448 and evil.com:1234 all match evil.com', () => {
    const acl = { allow: ['*'], deny: ['evil.com'] };
    for (const server of ['evil.com', 'evil.com:8448', 'evil.com:1234']) {
      assert.equal(allowed(acl, server), false, server);
    }
    assert.equal(allowed({ allow: ['good.org'] }, 'good.org:8448'), true);
  });

  it('matches case-insensitively (v1.19), patterns and names alike', () => {
    assert.equal(allowed({ allow: ['*'], deny: ['EVIL.com'] }, 'evil.COM'), false);
    assert.equal(allowed({ allow: ['Example.ORG'] }, 'example.org'), true);
    assert.equal(allowed({ allow: ['*.example.org'] }, 'CHAT.Example.Org:443'), true);
  });

  it('reads * as any run of characters and ? as exactly one, every other character literally', () => {
    assert.equal(globToRegExp('ev?l.com').test('evil.com'), true);
    assert.equal(globToRegExp('ev?l.com').test('evl.com'), false);
    assert.equal(globToRegExp('ev?l.com').test('eviil.com'), false);
    assert.equal(globToRegExp('*').test(''), true);
    assert.equal(globToRegExp('a*z').test('abcz'), true);
    assert.equal(globToRegExp('a.b').test('axb'), false);
    assert.equal(globToRegExp('[a]+(b)|c{2}^$\\').test('[a]+(b)|c{2}^$\\'), true);
    assert.equal(globToRegExp('matrix.org').test('matrix.org.evil.com'), false);
  });

  it('denies everyone when `allow` is missing, even the IP literals it would allow', () => {
    assert.equal(allowed({ deny: ['evil.com'] }, 'matrix.org'), false);
    assert.equal(allowed({}, 'matrix.org'), false);
    assert.equal(allowed({ allow: [] }, '1.2.3.4'), false);
  });

  it('allows IP literals unless allow_ip_literals is exactly false', () => {
    assert.equal(allowed({ allow: ['*'] }, '1.2.3.4'), true);
    assert.equal(allowed({ allow: ['*'], allow_ip_literals: true }, '[::1]:8448'), true);
    // Not a boolean: the default (true), as the spec says.
    assert.equal(allowed({ allow: ['*'], allow_ip_literals: 'false' }, '1.2.3.4'), true);
    assert.equal(allowed({ allow: ['*'], allow_ip_literals: false }, '1.2.3.4:8448'), false);
    // IP literals are matched by the lists too (an IPv6 one in its brackets, as Synapse).
    assert.equal(allowed({ allow: ['*'], deny: ['1.2.3.*'] }, '1.2.3.4'), false);
    assert.equal(allowed({ allow: ['[::1]'] }, '[::1]:8448'), true);
  });

  it('treats lists that are not arrays as empty and skips entries that are not strings', () => {
    assert.equal(allowed({ allow: '*' }, 'matrix.org'), false);
    assert.equal(allowed({ allow: ['*'], deny: 'evil.com' }, 'evil.com'), true);
    assert.equal(allowed({ allow: [1, null, { x: 1 }, 'matrix.org'] }, 'matrix.org'), true);
    assert.equal(allowed({ allow: [1, null] }, 'matrix.org'), false);
    assert.equal(allowed(null, 'matrix.org'), false);
  });

  it('denies a name that is no server name', () => {
    assert.equal(allowed({ allow: ['*'] }, 'bad name'), false);
    assert.equal(allowed({ allow: ['*'] }, 'host:99999'), false);
  });
});
