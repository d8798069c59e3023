/** The Admin API's pure rules: the user list's parameters, its pages, whois, local user IDs. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  adminUserJson,
  checkLocalUserId,
  parseUserListQuery,
  userListJson,
  whoisJson,
} from '../../src/admin/admin-rules.js';
import type { ListedUser } from '../../src/domain/user-list.js';
import { MatrixError } from '../../src/protocol/errors.js';

const invalidParam = (err: unknown) =>
  err instanceof MatrixError && err.status === 400 && err.errcode === 'M_INVALID_PARAM';

const user = (userId: string): ListedUser => ({
  userId,
  isGuest: false,
  isAdmin: true,
  deactivated: false,
  createdTs: 1234,
  displayName: null,
  avatarUrl: 'mxc://x/y',
});

describe('admin rules', () => {
  describe('parseUserListQuery', () => {
    it("gives Synapse's defaults", () => {
      assert.deepEqual(parseUserListQuery({}), {
        from: 0,
        limit: 100,
        guests: true,
        deactivated: false,
        orderBy: 'name',
        direction: 'f',
      });
      assert.deepEqual(parseUserListQuery(undefined), parseUserListQuery({}));
    });

    it('reads every parameter; user_id is ignored when name is given; empty filters filter nothing', () => {
      assert.deepEqual(
        parseUserListQuery({
          from: '5',
          limit: '0',
          user_id: 'ali',
          guests: 'false',
          deactivated: 'true',
          admins: 'false',
          order_by: 'creation_ts',
          dir: 'b',
          unknown: 'ignored',
        }),
        {
          from: 5,
          limit: 0,
          userIdContains: 'ali',
          guests: false,
          admins: false,
          orderBy: 'creation_ts',
          direction: 'b',
        },
      );
      const named = parseUserListQuery({ user_id: 'ali', name: 'Bob' });
      assert.equal(named.nameContains, 'Bob');
      assert.equal(named.userIdContains, undefined);
      assert.equal(parseUserListQuery({ user_id: '' }).userIdContains, undefined);
      assert.equal(parseUserListQuery({ admins: 'true' }).admins, true);
    });

    it('reads deactivated as v2 does (true adds them) and as v3 does (a filter both ways)', () => {
      const deactivated = (version: 'v2' | 'v3', value?: string) =>
        parseUserListQuery(value === undefined ? {} : { deactivated: value }, version).deactivated;
      assert.equal(deactivated('v2'), false);
      assert.equal(deactivated('v2', 'false'), false);
      assert.equal(deactivated('v2', 'true'), undefined);
      assert.equal(deactivated('v3'), undefined);
      assert.equal(deactivated('v3', 'false'), false);
      assert.equal(deactivated('v3', 'true'), true);
      assert.ok(!('deactivated' in parseUserListQuery({}, 'v3')));
    });

    it('refuses bad values with M_INVALID_PARAM', () => {
      for (const query of [
        { from: '-1' },
        { from: 'x' },
        { limit: '1.5' },
        { limit: '99999999999999999999' },
        { guests: 'yes' },
        { deactivated: '1' },
        { admins: '' },
        { order_by: 'password_hash' },
        { dir: 'up' },
        { from: ['1', '2'] },
      ]) {
        assert.throws(() => parseUserListQuery(query), invalidParam, JSON.stringify(query));
      }
    });
  });

  describe('pages', () => {
    it("shapes users as Synapse's admin API", () => {
      assert.deepEqual(adminUserJson(user('@a:x')), {
        name: '@a:x',
        user_type: null,
        is_guest: false,
        admin: true,
        deactivated: false,
        shadow_banned: false,
        displayname: null,
        avatar_url: 'mxc://x/y',
        creation_ts: 1234,
        locked: false,
        suspended: false,
        approved: true,
      });
    });

    it('gives next_token (from + count, a string) only while users remain', () => {
      const two = [user('@a:x'), user('@b:x')];
      assert.equal(userListJson({ from: 0 }, { users: two, total: 5 }).next_token, '2');
      assert.equal(userListJson({ from: 3 }, { users: two, total: 5 }).next_token, undefined);
      assert.equal(userListJson({ from: 2 }, { users: two, total: 5 }).next_token, '4');
      // An empty page (limit=0, or from past the end) never loops.
      assert.equal(userListJson({ from: 0 }, { users: [], total: 5 }).next_token, undefined);
      assert.deepEqual(userListJson({ from: 9 }, { users: [], total: 5 }), {
        users: [],
        total: 5,
      });
    });
  });

  it('whois lists connections newest first in one session, an unknown user agent as ""', () => {
    assert.deepEqual(
      whoisJson('@a:x', [
        { ip: '10.0.0.1', lastSeen: 5, userAgent: null },
        { ip: '10.0.0.2', lastSeen: 9, userAgent: 'Element/1.11' },
      ]),
      {
        user_id: '@a:x',
        devices: {
          '': {
            sessions: [
              {
                connections: [
                  { ip: '10.0.0.2', last_seen: 9, user_agent: 'Element/1.11' },
                  { ip: '10.0.0.1', last_seen: 5, user_agent: '' },
                ],
              },
            ],
          },
        },
      },
    );
  });

  it('accepts local user IDs only', () => {
    assert.doesNotThrow(() => checkLocalUserId('@alice:localhost', 'localhost'));
    for (const userId of ['alice', '@:localhost', '@alice', '@alice:other', '@alice:localhost:1']) {
      assert.throws(() => checkLocalUserId(userId, 'localhost'), invalidParam, userId);
    }
  });
});
