/** The pure rules of receipts, profiles, presence and account data. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkClientWritable,
  checkRoomId,
  ignoredUsersOf,
  withTag,
  withoutTag,
} from '../../src/account-data/account-data-rules.js';
import { parseThreadId, receiptContent } from '../../src/ephemeral/receipt-rules.js';
import { MatrixError } from '../../src/protocol/errors.js';
import { presenceContent, stateAfterTimeouts } from '../../src/presence/presence-rules.js';
import { checkKey, valueFromBody, withField } from '../../src/profiles/profile-rules.js';
import { searchWords } from '../../src/user-directory/user-directory-service.js';

function errcodeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof MatrixError) return `${err.status} ${err.errcode}`;
    throw err;
  }
  return undefined;
}

describe('receipt rules', () => {
  it('accepts main and event IDs as thread_id, refuses the rest', () => {
    assert.equal(parseThreadId('m.read', undefined), undefined);
    assert.equal(parseThreadId('m.read', 'main'), 'main');
    assert.equal(parseThreadId('m.read.private', '$root'), '$root');
    assert.equal(
      errcodeOf(() => parseThreadId('m.read', '')),
      '400 M_INVALID_PARAM',
    );
    assert.equal(
      errcodeOf(() => parseThreadId('m.read', 3)),
      '400 M_INVALID_PARAM',
    );
    assert.equal(
      errcodeOf(() => parseThreadId('m.read', 'thread')),
      '400 M_INVALID_PARAM',
    );
    assert.equal(
      errcodeOf(() => parseThreadId('m.fully_read', 'main')),
      '400 M_INVALID_PARAM',
    );
  });

  it("builds m.receipt content without others' private receipts", () => {
    const receipts = [
      { receiptType: 'm.read', userId: '@a:x', eventId: '$1', ts: 5 },
      { receiptType: 'm.read.private', userId: '@b:x', eventId: '$2', ts: 6 },
      { receiptType: 'm.read', userId: '@c:x', eventId: '$1', ts: 7, threadId: 'main' },
    ];
    assert.deepEqual(receiptContent(receipts, '@a:x'), {
      $1: { 'm.read': { '@a:x': { ts: 5 }, '@c:x': { ts: 7, thread_id: 'main' } } },
    });
    assert.deepEqual(Object.keys(receiptContent(receipts, '@b:x')).sort(), ['$1', '$2']);
  });
});

describe('profile rules', () => {
  it('checks keys: grammar and the 255-byte limit', () => {
    for (const key of ['displayname', 'avatar_url', 'm.tz', 'org.example.x_1']) checkKey(key);
    assert.equal(
      errcodeOf(() => checkKey('Upper.case')),
      '400 M_INVALID_PARAM',
    );
    assert.equal(
      errcodeOf(() => checkKey('nodot')),
      '400 M_INVALID_PARAM',
    );
    assert.equal(
      errcodeOf(() => checkKey(`a.${'é'.repeat(127)}`)),
      '400 M_KEY_TOO_LARGE',
    );
  });

  it('checks values and the 64 KiB profile limit', () => {
    assert.equal(valueFromBody('org.x.y', { 'org.x.y': null }), null);
    assert.equal(
      errcodeOf(() => valueFromBody('displayname', { displayname: 1 })),
      '400 M_BAD_JSON',
    );
    assert.equal(
      errcodeOf(() => valueFromBody('avatar_url', { avatar_url: 'http://x' })),
      '400 M_BAD_JSON',
    );
    assert.equal(
      errcodeOf(() => valueFromBody('m.tz', {})),
      '400 M_MISSING_PARAM',
    );
    const half = 'x'.repeat(32 * 1024);
    const once = withField({}, 'a.b', half);
    assert.equal(
      errcodeOf(() => withField(once, 'a.c', half)),
      '400 M_PROFILE_TOO_LARGE',
    );
    assert.deepEqual(Object.keys(withField(once, 'a.b', 'small')), ['a.b'], 'replacing frees room');
  });
});

describe('presence rules', () => {
  const timeouts = { idle_timeout_ms: 100, offline_timeout_ms: 1_000 };
  const live = { state: 'online' as const, lastActiveTs: 0, lastSeenTs: 0, syncing: 0 };

  it('goes unavailable when idle and offline when silent, never while syncing', () => {
    assert.equal(stateAfterTimeouts(live, 50, timeouts), 'online');
    assert.equal(stateAfterTimeouts(live, 100, timeouts), 'unavailable');
    assert.equal(stateAfterTimeouts(live, 1_000, timeouts), 'offline');
    assert.equal(stateAfterTimeouts({ ...live, syncing: 1 }, 5_000, timeouts), 'unavailable');
    assert.equal(stateAfterTimeouts({ ...live, state: 'offline' }, 5_000, timeouts), 'offline');
  });

  it('reports currently_active only for recent activity', () => {
    const view = { state: 'online', lastActiveTs: 1_000 };
    assert.equal(presenceContent(view, 2_000).currently_active, true);
    assert.equal(presenceContent(view, 100_000).currently_active, false);
    assert.equal(presenceContent(view, 2_000).last_active_ago, 1_000);
  });
});

describe('account data rules', () => {
  it('refuses server-controlled types with 405 M_BAD_JSON', () => {
    assert.equal(
      errcodeOf(() => checkClientWritable('m.fully_read')),
      '405 M_BAD_JSON',
    );
    assert.equal(
      errcodeOf(() => checkClientWritable('m.push_rules')),
      '405 M_BAD_JSON',
    );
    assert.equal(
      errcodeOf(() => checkClientWritable('m.tag')),
      undefined,
    );
  });

  it('checks room IDs, v12 ones (no server name) included', () => {
    checkRoomId('!abc:example.org');
    checkRoomId('!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM');
    assert.equal(
      errcodeOf(() => checkRoomId('abc')),
      '400 M_INVALID_PARAM',
    );
  });

  it('reads ignored users and edits tags', () => {
    assert.deepEqual([...ignoredUsersOf({ ignored_users: { '@a:x': {} } })], ['@a:x']);
    assert.deepEqual([...ignoredUsersOf({ ignored_users: [] })], []);
    const tagged = withTag(undefined, 'u.x', { order: 1 });
    assert.deepEqual(withoutTag(withTag(tagged, 'm.lowpriority', {}), 'u.x'), {
      tags: { 'm.lowpriority': {} },
    });
  });

  it('splits search terms into folded words', () => {
    assert.deepEqual(searchWords('  Ünicode  Name '), ['ünicode', 'name']);
  });
});
