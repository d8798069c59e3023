/** The pure rules of account moderation: routes each flag refuses or fakes, and the admin bodies. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isMessageSend,
  lockAllows,
  routePath,
  shadowBanAnswer,
  suspensionRefuses,
} from '../../src/auth/account-moderation-rules.js';
import {
  parseRateLimitOverride,
  parseValidUntil,
  rateLimitOverrideJson,
} from '../../src/admin/account-moderation-rules.js';
import { MatrixError } from '../../src/protocol/errors.js';

const SEND = '/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId';
const invalidParam = (err: unknown) =>
  err instanceof MatrixError && err.errcode === 'M_INVALID_PARAM';

describe('account moderation rules', () => {
  it('reads routes below any client or media prefix and version', () => {
    assert.equal(routePath(SEND), '/rooms/:roomId/send/:eventType/:txnId');
    assert.equal(routePath('/_matrix/client/r0/createRoom'), '/createRoom');
    assert.equal(routePath('/_matrix/media/v3/upload'), '/upload');
    assert.equal(routePath('/_synapse/admin/v2/users'), '/_synapse/admin/v2/users');
  });

  it('lets a locked user log out and nothing else', () => {
    assert.equal(lockAllows('POST', '/_matrix/client/v3/logout'), true);
    assert.equal(lockAllows('POST', '/_matrix/client/r0/logout/all'), true);
    assert.equal(lockAllows('GET', '/_matrix/client/v3/account/whoami'), false);
    assert.equal(lockAllows('GET', '/_matrix/client/v3/sync'), false);
  });

  it('refuses a suspended user acting, but not redacting, leaving or reading', () => {
    assert.equal(suspensionRefuses('PUT', SEND, 'm.room.message'), true);
    assert.equal(suspensionRefuses('PUT', SEND, 'm.room.redaction'), false);
    assert.equal(suspensionRefuses('POST', '/_matrix/client/v3/createRoom'), true);
    assert.equal(suspensionRefuses('POST', '/_matrix/client/v3/join/:roomId'), true);
    assert.equal(suspensionRefuses('POST', '/_matrix/client/v3/rooms/:roomId/invite'), true);
    assert.equal(suspensionRefuses('PUT', '/_matrix/client/v3/profile/:userId/:keyName'), true);
    assert.equal(suspensionRefuses('POST', '/_matrix/media/v3/upload'), true);
    assert.equal(suspensionRefuses('POST', '/_matrix/client/v3/rooms/:roomId/leave'), false);
    assert.equal(
      suspensionRefuses('PUT', '/_matrix/client/v3/rooms/:roomId/redact/:eventId/:txnId'),
      false,
    );
    assert.equal(suspensionRefuses('GET', '/_matrix/client/v3/sync'), false);
    assert.equal(suspensionRefuses('GET', '/_matrix/client/v3/profile/:userId/:keyName'), false);
  });

  it('fakes a shadow-banned user’s events and invites, lets joins through', () => {
    assert.equal(shadowBanAnswer('PUT', SEND), 'fake-event');
    assert.equal(
      shadowBanAnswer('PUT', '/_matrix/client/v3/rooms/:roomId/state/:eventType'),
      'fake-event',
    );
    assert.equal(shadowBanAnswer('POST', '/_matrix/client/v3/rooms/:roomId/invite'), 'empty');
    assert.equal(shadowBanAnswer('POST', '/_matrix/client/v3/join/:roomId'), undefined);
    assert.equal(shadowBanAnswer('GET', '/_matrix/client/v3/sync'), undefined);
  });

  it('counts non-member events as messages', () => {
    assert.equal(isMessageSend('PUT', SEND), true);
    assert.equal(
      isMessageSend('PUT', '/_matrix/client/v3/rooms/:roomId/redact/:eventId/:txnId'),
      true,
    );
    assert.equal(isMessageSend('POST', '/_matrix/client/v3/rooms/:roomId/invite'), false);
  });

  it('reads rate limit overrides: non-negative integers, 0 by default', () => {
    assert.deepEqual(parseRateLimitOverride({}), { messagesPerSecond: 0, burstCount: 0 });
    assert.deepEqual(parseRateLimitOverride({ messages_per_second: 3, burst_count: 7 }), {
      messagesPerSecond: 3,
      burstCount: 7,
    });
    for (const body of [{ messages_per_second: -1 }, { burst_count: 0.5 }, { burst_count: '1' }]) {
      assert.throws(() => parseRateLimitOverride(body), invalidParam, JSON.stringify(body));
    }
    assert.deepEqual(rateLimitOverrideJson(undefined), {});
  });

  it('reads valid_until_ms: absent is forever, the past and non-integers are refused', () => {
    assert.equal(parseValidUntil({}, 1000), null);
    assert.equal(parseValidUntil({ valid_until_ms: 5000 }, 1000), 5000);
    assert.throws(() => parseValidUntil({ valid_until_ms: 999 }, 1000), invalidParam);
    assert.throws(() => parseValidUntil({ valid_until_ms: '5000' }, 1000), invalidParam);
  });
});
