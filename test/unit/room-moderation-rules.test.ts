/** The pure rules of room deletion, blocks and history purges (admin/room-moderation-rules.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AdminJob } from '../../src/domain/admin-jobs.js';
import { MatrixError } from '../../src/protocol/errors.js';
import {
  DEFAULT_NEW_ROOM_NAME,
  DEFAULT_SHUTDOWN_MESSAGE,
  deleteStatusJson,
  parseBlockBody,
  parseHistoryPurge,
  parseRoomDeletion,
  purgeStatusJson,
} from '../../src/admin/room-moderation-rules.js';

const code = (errcode: string) => (err: unknown) =>
  err instanceof MatrixError && err.errcode === errcode;

const job = (status: AdminJob['status'], extra: Partial<AdminJob> = {}): AdminJob => ({
  id: 'j',
  kind: 'room_delete',
  roomId: '!r:hs',
  params: {},
  status,
  error: null,
  result: null,
  createdTs: 1,
  updatedTs: 1,
  ...extra,
});

describe('room moderation rules', () => {
  it("reads a deletion with Synapse's defaults", () => {
    assert.deepEqual(parseRoomDeletion({}, '@admin:hs', 'hs'), {
      block: false,
      purge: true,
      forcePurge: false,
      roomName: DEFAULT_NEW_ROOM_NAME,
      message: DEFAULT_SHUTDOWN_MESSAGE,
      requesterId: '@admin:hs',
    });
    const full = parseRoomDeletion(
      { block: true, purge: false, new_room_user_id: '@mod:hs', room_name: 'N', message: 'M' },
      '@admin:hs',
      'hs',
    );
    assert.deepEqual([full.block, full.purge, full.newRoomUserId], [true, false, '@mod:hs']);
  });

  it('refuses wrong types and a remote new_room_user_id', () => {
    assert.throws(() => parseRoomDeletion({ block: 1 }, '@a:hs', 'hs'), code('M_BAD_JSON'));
    assert.throws(
      () => parseRoomDeletion({ new_room_user_id: '@mod:other' }, '@a:hs', 'hs'),
      code('M_INVALID_PARAM'),
    );
    assert.throws(() => parseBlockBody({}), code('M_MISSING_PARAM'));
    assert.throws(() => parseBlockBody({ block: 'true' }), code('M_BAD_JSON'));
    assert.equal(parseBlockBody({ block: false }), false);
  });

  it('reads the purge point: the path, then the event ID, then the time', () => {
    assert.deepEqual(parseHistoryPurge({ purge_up_to_event_id: '$b' }, '$a'), {
      point: { eventId: '$a' },
      deleteLocalEvents: false,
    });
    assert.deepEqual(
      parseHistoryPurge({ purge_up_to_ts: 5, delete_local_events: true }, undefined),
      {
        point: { ts: 5 },
        deleteLocalEvents: true,
      },
    );
    assert.throws(() => parseHistoryPurge({}, undefined), code('M_MISSING_PARAM'));
    assert.throws(
      () => parseHistoryPurge({ purge_up_to_ts: 1.5 }, undefined),
      code('M_INVALID_PARAM'),
    );
  });

  it('shapes statuses as Synapse: error only when failed, purges never scheduled', () => {
    assert.deepEqual(deleteStatusJson(job('active', { error: 'x' })), {
      delete_id: 'j',
      room_id: '!r:hs',
      status: 'active',
      shutdown_room: {
        kicked_users: [],
        failed_to_kick_users: [],
        local_aliases: [],
        new_room_id: null,
      },
    });
    assert.equal(deleteStatusJson(job('failed', { error: 'boom' })).error, 'boom');
    assert.deepEqual(purgeStatusJson(job('scheduled')), { status: 'active' });
    assert.deepEqual(purgeStatusJson(job('failed', { error: 'e' })), {
      status: 'failed',
      error: 'e',
    });
  });
});
