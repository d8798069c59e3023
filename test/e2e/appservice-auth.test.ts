/**
 * Application services as clients: the as_token authenticates as the
 * service's sender, `?user_id=` masquerades as its registered users,
 * `?device_id=` as their devices; `?ts=` on /send and /state; rate limits;
 * and a bad registration file stopping the start.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';
import { testRegistration, writeRegistrations } from '../support/appservice-registrations.js';
import { makeTempDir, runWeft } from '../support/process.js';

const WHOAMI = `${CLIENT_V3}/account/whoami`;
const SEND = `${CLIENT_V3}/rooms/{roomId}/send/{eventType}/{txnId}`;
const STATE = `${CLIENT_V3}/rooms/{roomId}/state/{eventType}/{stateKey}`;
const EVENT = `${CLIENT_V3}/rooms/{roomId}/event/{eventId}`;
const REGISTER = `${CLIENT_V3}/register`;

const bridge = testRegistration('bridge');
const SENDER = '@bridgebot:localhost';
const token = { token: bridge.as_token };

/** A query string of the given parameters. */
const q = (params: Record<string, string>) => `?${new URLSearchParams(params).toString()}`;

describe('application service authentication', () => {
  const suite = serverSuite({ app_service_config_files: writeRegistrations([bridge]) });
  const { api } = suite;
  const carol = suite.user('carol');

  /** Registers a namespaced user through the service; answers its session. */
  const registerGhost = async (username: string): Promise<Session> => {
    const res = await api.post(
      REGISTER,
      { type: 'm.login.application_service', username },
      { token: bridge.as_token },
    );
    return expectSpec(res, 'POST', REGISTER) as unknown as Session;
  };

  it('authenticates the as_token as the sender, made at start, with no device', async () => {
    const who = expectSpec(await api.get(WHOAMI, token), 'GET', WHOAMI);
    assert.equal(who.user_id, SENDER);
    assert.equal(who.device_id, undefined, 'a service names no device unless asked');
    assert.equal(who.is_guest, false);
    const profile = await api.get(`${CLIENT_V3}/profile/${encodeURIComponent(SENDER)}`, token);
    assert.equal(profile.status, 200, 'the sender account exists');
    assert.equal(profile.body.displayname, 'bridgebot');
    expectError(await api.get(WHOAMI, { token: 'not-a-token' }), 401, 'M_UNKNOWN_TOKEN');
  });

  it('masquerades as a registered namespaced user, and only such a user', async () => {
    const ghostId = '@bridge_alice:localhost';
    const unregistered = await api.get(`${WHOAMI}${q({ user_id: ghostId })}`, token);
    expectError(unregistered, 403, 'M_FORBIDDEN');
    assert.match(String(unregistered.body.error), /has not registered this user/);

    await registerGhost('bridge_alice');
    const who = expectSpec(
      await api.get(`${WHOAMI}${q({ user_id: ghostId })}`, token),
      'GET',
      WHOAMI,
    );
    assert.equal(who.user_id, ghostId);
    const asSender = await api.get(`${WHOAMI}${q({ user_id: SENDER })}`, token);
    assert.equal(asSender.body.user_id, SENDER);

    const outside = await api.get(`${WHOAMI}${q({ user_id: carol.user_id })}`, token);
    expectError(outside, 403, 'M_FORBIDDEN');
    assert.match(String(outside.body.error), /cannot masquerade as this user/);
  });

  it("acts as one of the user's devices with device_id or MSC3202's parameter", async () => {
    const ghost = await registerGhost('bridge_dev');
    for (const name of ['device_id', 'org.matrix.msc3202.device_id']) {
      const res = await api.get(
        `${WHOAMI}${q({ user_id: ghost.user_id, [name]: ghost.device_id })}`,
        token,
      );
      const who = expectSpec(res, 'GET', WHOAMI);
      assert.deepEqual([who.user_id, who.device_id], [ghost.user_id, ghost.device_id], name);
      const unknown = await api.get(
        `${WHOAMI}${q({ user_id: ghost.user_id, [name]: 'NOSUCHDEVICE' })}`,
        token,
      );
      expectError(unknown, 400, 'M_UNKNOWN_DEVICE');
    }
  });

  it('ignores user_id on an ordinary access token', async () => {
    const res = await api.get(`${WHOAMI}${q({ user_id: SENDER })}`, { token: carol.access_token });
    assert.equal(expectSpec(res, 'GET', WHOAMI).user_id, carol.user_id);
  });

  it('sends as the masqueraded user, with ?ts= as origin_server_ts', async () => {
    const ghost = await registerGhost('bridge_ts');
    const roomId = await suite.createRoom(carol, { preset: 'public_chat' });
    const as = (params: Record<string, string> = {}) => q({ user_id: ghost.user_id, ...params });
    const joined = await api.post(`${CLIENT_V3}/join/${roomId}${as()}`, {}, token);
    assert.equal(joined.status, 200, JSON.stringify(joined.body));

    const sent = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/t1${as({ ts: '1234567890' })}`,
      { msgtype: 'm.text', body: 'from the past' },
      token,
    );
    const { event_id: sentId } = expectSpec(sent, 'PUT', SEND);
    const event = await api.get(`${CLIENT_V3}/rooms/${roomId}/event/${sentId}`, {
      token: carol.access_token,
    });
    const body = expectSpec(event, 'GET', EVENT);
    assert.equal(body.sender, ghost.user_id);
    assert.equal(body.origin_server_ts, 1234567890);

    const state = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/state/m.room.member/${encodeURIComponent(ghost.user_id)}${as({ ts: '1000' })}`,
      { membership: 'join', displayname: 'Bridged Bob' },
      token,
    );
    const { event_id: stateId } = expectSpec(state, 'PUT', STATE);
    const stateEvent = await api.get(`${CLIENT_V3}/rooms/${roomId}/event/${stateId}`, {
      token: carol.access_token,
    });
    assert.equal(stateEvent.body.origin_server_ts, 1000);

    const bad = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/t2${as({ ts: 'yesterday' })}`,
      { msgtype: 'm.text', body: 'x' },
      token,
    );
    expectError(bad, 400, 'M_INVALID_PARAM');
  });

  it('ignores ?ts= from an ordinary user', async () => {
    const roomId = await suite.createRoom(carol);
    const before = Date.now();
    const sent = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/t3${q({ ts: '1000' })}`,
      { msgtype: 'm.text', body: 'now' },
      { token: carol.access_token },
    );
    const { event_id: eventId } = expectSpec(sent, 'PUT', SEND);
    const event = await api.get(`${CLIENT_V3}/rooms/${roomId}/event/${eventId}`, {
      token: carol.access_token,
    });
    assert.ok(Number(event.body.origin_server_ts) >= before, JSON.stringify(event.body));
  });
});

describe('application service rate limits', () => {
  const limited = testRegistration('limited');
  const unlimited = testRegistration('free', { rate_limited: false });
  const suite = serverSuite({
    app_service_config_files: writeRegistrations([limited, unlimited]),
    rate_limits: { enabled: true, messages_per_user: { per_second: 0.001, burst_count: 2 } },
  });
  const { api } = suite;
  const carol = suite.user('carol');

  /** Sends `count` messages as the service (as `userId` if given); answers the statuses. */
  const sendMany = async (asToken: string, roomId: string, count: number, userId?: string) => {
    const statuses: number[] = [];
    for (let i = 0; i < count; i++) {
      const query = userId === undefined ? '' : q({ user_id: userId });
      const res = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/${asToken}-${userId ?? 's'}-${i}${query}`,
        { msgtype: 'm.text', body: `message ${i}` },
        { token: asToken },
      );
      statuses.push(res.status);
    }
    return statuses;
  };
  const ghostIn = async (registration: typeof limited, username: string, roomId: string) => {
    const reg = await api.post(
      REGISTER,
      { type: 'm.login.application_service', username, inhibit_login: true },
      { token: registration.as_token },
    );
    assert.equal(reg.status, 200, JSON.stringify(reg.body));
    const userId = String(reg.body.user_id);
    const join = await api.post(
      `${CLIENT_V3}/join/${roomId}${q({ user_id: userId })}`,
      {},
      { token: registration.as_token },
    );
    assert.equal(join.status, 200, JSON.stringify(join.body));
    return userId;
  };

  it('never limits the sender; limits its users unless rate_limited is false', async () => {
    const roomId = await suite.createRoom(carol, { preset: 'public_chat' });
    const senderJoin = await api.post(
      `${CLIENT_V3}/join/${roomId}`,
      {},
      { token: limited.as_token },
    );
    assert.equal(senderJoin.status, 200, JSON.stringify(senderJoin.body));
    assert.deepEqual(await sendMany(limited.as_token, roomId, 4), [200, 200, 200, 200]);

    const limitedGhost = await ghostIn(limited, 'limited_bob', roomId);
    assert.deepEqual(await sendMany(limited.as_token, roomId, 3, limitedGhost), [200, 200, 429]);

    const freeGhost = await ghostIn(unlimited, 'free_bob', roomId);
    assert.deepEqual(
      await sendMany(unlimited.as_token, roomId, 4, freeGhost),
      [200, 200, 200, 200],
    );
  });
});

describe('application service registration files at start-up', () => {
  const dir = makeTempDir('weft-appservice-start-');
  after(() => dir.remove());

  /** Runs `weft start` with these registration files; answers its exit and stderr. */
  const start = async (documents: unknown[]) => {
    const files = documents.map((document, index) => {
      const file = path.join(dir.path, `reg-${index}-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(file, stringify(document));
      return file;
    });
    const config = path.join(dir.path, 'weft.yaml');
    writeFileSync(config, stringify({ app_service_config_files: files }));
    const env = { WEFT_CONFIG: config, WEFT_DATA_DIR: path.join(dir.path, 'data'), WEFT_PORT: '0' };
    const result = await runWeft(['start'], { cwd: dir.path, env, timeoutMs: 20_000 });
    return { ...result, files };
  };

  it('refuses a bad registration, naming the file and the field', async () => {
    const result = await start([testRegistration('bad', { sender_localpart: 'Not Valid' })]);
    assert.equal(result.code, 1, result.stderr);
    assert.doesNotMatch(result.stdout, /Weft is listening/);
    assert.ok(result.stderr.includes(result.files[0]!), result.stderr);
    assert.match(result.stderr, /sender_localpart/);
  });

  it('refuses two services with the same as_token', async () => {
    const result = await start([
      testRegistration('one', { as_token: 'shared' }),
      testRegistration('two', { as_token: 'shared' }),
    ]);
    assert.equal(result.code, 1, result.stderr);
    assert.ok(result.stderr.includes(result.files[1]!), result.stderr);
    assert.match(result.stderr, /as_token is already used by/);
  });
});
