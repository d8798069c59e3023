/** Server-side key backup: versions, keys, the better-key rule, etag and count, wrong versions. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite } from '../support/fixture.js';
import { assertResponseMatchesSpec, assertSpecError } from '../support/spec-schemas.js';

type Json = Record<string, unknown>;
const ALGORITHM = 'm.megolm_backup.v1.curve25519-aes-sha2';
const ROOM = '!room:localhost';

function keyData(index: number, forwarded: number, verified: boolean, tag: string): Json {
  return {
    first_message_index: index,
    forwarded_count: forwarded,
    is_verified: verified,
    session_data: { ephemeral: tag, ciphertext: tag, mac: tag },
  };
}

describe('key backup', () => {
  const suite = serverSuite();
  const { api } = suite;
  const alice = suite.user('alice');

  const call = (method: string, path: string, body?: unknown) =>
    api.request(method, `${CLIENT_V3}${path}`, body, { token: alice.access_token });
  const createVersion = async () => {
    const res = await call('POST', '/room_keys/version', {
      algorithm: ALGORITHM,
      auth_data: { public_key: 'abc', signatures: {} },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertResponseMatchesSpec('post', `${CLIENT_V3}/room_keys/version`, 200, res.body);
    return res.body.version as string;
  };
  const sessionKey = (version: string, sessionId: string) =>
    call('GET', `/room_keys/keys/${ROOM}/${sessionId}?version=${version}`);

  it('has no version at first, then the newest undeleted one is current', async () => {
    const none = await call('GET', '/room_keys/version');
    assert.equal(none.status, 404);
    assertSpecError(none.body, 'M_NOT_FOUND');
    const v1 = await createVersion();
    const v2 = await createVersion();
    assert.notEqual(v1, v2);
    const current = await call('GET', '/room_keys/version');
    assertResponseMatchesSpec('get', `${CLIENT_V3}/room_keys/version`, 200, current.body);
    assert.equal(current.body.version, v2);
    assert.equal(current.body.count, 0);
    assert.equal((await call('DELETE', `/room_keys/version/${v2}`)).status, 200);
    assert.equal((await call('GET', '/room_keys/version')).body.version, v1);
    const gone = await call('GET', `/room_keys/version/${v2}`);
    assert.equal(gone.status, 404);
    assertSpecError(gone.body, 'M_NOT_FOUND');
    assert.equal((await call('GET', '/room_keys/version/nonsense')).status, 404);
    assert.equal((await call('DELETE', `/room_keys/version/${v2}`)).status, 404);
  });

  it('updates auth_data only: another algorithm or version in the body is refused', async () => {
    const version = await createVersion();
    const path = `/room_keys/version/${version}`;
    const ok = await call('PUT', path, {
      algorithm: ALGORITHM,
      auth_data: { public_key: 'new' },
      version,
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual((await call('GET', path)).body.auth_data, { public_key: 'new' });
    const otherAlgorithm = await call('PUT', path, { algorithm: 'm.other', auth_data: {} });
    assert.equal(otherAlgorithm.status, 400);
    assertSpecError(otherAlgorithm.body, 'M_INVALID_PARAM');
    const otherVersion = await call('PUT', path, {
      algorithm: ALGORITHM,
      auth_data: {},
      version: '999',
    });
    assert.equal(otherVersion.status, 400);
    assertSpecError(otherVersion.body, 'M_INVALID_PARAM');
    assert.equal(
      (await call('PUT', '/room_keys/version/999', { algorithm: ALGORITHM, auth_data: {} })).status,
      404,
    );
  });

  it('keeps the better key of a session, with etag and count', async () => {
    const version = await createVersion();
    const put = async (sessionId: string, data: Json) => {
      const res = await call(
        'PUT',
        `/room_keys/keys/${ROOM}/${sessionId}?version=${version}`,
        data,
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assertResponseMatchesSpec(
        'put',
        `${CLIENT_V3}/room_keys/keys/{roomId}/{sessionId}`,
        200,
        res.body,
      );
      return res.body as { etag: string; count: number };
    };
    const first = await put('s1', keyData(5, 1, false, 'first'));
    assert.equal(first.count, 1);
    const worse = await put('s1', keyData(6, 0, false, 'worse index'));
    assert.equal(worse.etag, first.etag, 'nothing changed');
    assert.equal((await sessionKey(version, 's1')).body.first_message_index, 5);
    const lowerIndex = await put('s1', keyData(2, 3, false, 'lower index'));
    assert.notEqual(lowerIndex.etag, first.etag);
    const fewerForwards = await put('s1', keyData(2, 1, false, 'fewer forwards'));
    assert.equal((await sessionKey(version, 's1')).body.forwarded_count, 1);
    await put('s1', keyData(9, 9, true, 'verified'));
    const stored = await sessionKey(version, 's1');
    assertResponseMatchesSpec(
      'get',
      `${CLIENT_V3}/room_keys/keys/{roomId}/{sessionId}`,
      200,
      stored.body,
    );
    assert.equal((stored.body.session_data as Json).ciphertext, 'verified', 'verified beats all');
    await put('s1', keyData(0, 0, false, 'unverified'));
    assert.equal(
      ((await sessionKey(version, 's1')).body.session_data as Json).ciphertext,
      'verified',
    );
    assert.notEqual(fewerForwards.etag, lowerIndex.etag);

    const bulk = await call('PUT', `/room_keys/keys?version=${version}`, {
      rooms: {
        [ROOM]: { sessions: { s2: keyData(0, 0, false, 's2') } },
        '!other:localhost': { sessions: { s3: keyData(0, 0, false, 's3') } },
      },
    });
    assert.equal(bulk.body.count, 3);
    const all = await call('GET', `/room_keys/keys?version=${version}`);
    assertResponseMatchesSpec('get', `${CLIENT_V3}/room_keys/keys`, 200, all.body);
    assert.deepEqual(Object.keys((all.body.rooms as Json)[ROOM] as Json), ['sessions']);
    const room = await call('GET', `/room_keys/keys/${ROOM}?version=${version}`);
    assert.deepEqual(Object.keys(room.body.sessions as Json).sort(), ['s1', 's2']);
    const deleted = await call('DELETE', `/room_keys/keys/${ROOM}?version=${version}`);
    assert.equal(deleted.status, 200);
    assert.equal(deleted.body.count, 1);
    const missing = await sessionKey(version, 's1');
    assert.equal(missing.status, 404);
    assertSpecError(missing.body, 'M_NOT_FOUND');
  });

  it('refuses keys for a version that is not the current one', async () => {
    const old = await createVersion();
    const current = await createVersion();
    const res = await call(
      'PUT',
      `/room_keys/keys/${ROOM}/s1?version=${old}`,
      keyData(0, 0, false, 'x'),
    );
    assert.equal(res.status, 403);
    assertSpecError(res.body, 'M_WRONG_ROOM_KEYS_VERSION');
    assert.equal(res.body.current_version, current);
    const noVersion = await call('PUT', `/room_keys/keys/${ROOM}/s1`, keyData(0, 0, false, 'x'));
    assert.equal(noVersion.status, 400);
    assertSpecError(noVersion.body, 'M_MISSING_PARAM');
  });
});
