/** /keys/upload, /keys/query, /keys/claim and the key counts of /sync, over HTTP. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { assertResponseMatchesSpec, assertSpecError } from '../support/spec-schemas.js';
import { deviceKeysFor, oneTimeKeys } from '../support/e2ee.js';

type Body = Record<string, unknown>;
type ClaimBody = { one_time_keys: Record<string, Record<string, Record<string, Body>>> };

describe('E2EE keys', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob] = suite.users('alice', 'bob');

  const upload = async (who: Session, body: Body) => {
    const res = await api.post(`${CLIENT_V3}/keys/upload`, body, { token: who.access_token });
    if (res.status === 200) {
      assertResponseMatchesSpec('post', `${CLIENT_V3}/keys/upload`, 200, res.body);
    }
    return res;
  };
  const query = async (who: Session, deviceKeys: Record<string, string[]>) => {
    const res = await api.post(
      `${CLIENT_V3}/keys/query`,
      { device_keys: deviceKeys },
      { token: who.access_token },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertResponseMatchesSpec('post', `${CLIENT_V3}/keys/query`, 200, res.body);
    return res.body as { device_keys: Record<string, Record<string, Body>>; failures: Body };
  };
  const claim = async (who: Session, wanted: Record<string, Record<string, string>>) => {
    const res = await api.post(
      `${CLIENT_V3}/keys/claim`,
      { one_time_keys: wanted },
      { token: who.access_token },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertResponseMatchesSpec('post', `${CLIENT_V3}/keys/claim`, 200, res.body);
    return res.body as ClaimBody;
  };
  const claimedIds = (body: ClaimBody, who: Session) =>
    Object.keys(body.one_time_keys[who.user_id]?.[who.device_id] ?? {});
  const syncOf = (who: Session, query: Record<string, string> = { timeout: '0' }) =>
    suite.sync<{
      next_batch: string;
      device_one_time_keys_count: Record<string, number>;
      device_unused_fallback_key_types: string[];
    }>(who, query);

  it('stores device keys: the caller’s own device only, identical re-upload accepted, identity fixed', async () => {
    const { identity, keys } = deviceKeysFor(alice);
    const first = await upload(alice, { device_keys: keys });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(first.body, { one_time_key_counts: { signed_curve25519: 0 } });
    assert.equal((await upload(alice, { device_keys: keys })).status, 200);

    const forBob = await upload(alice, { device_keys: { ...keys, user_id: bob.user_id } });
    assert.equal(forBob.status, 400);
    assertSpecError(forBob.body, 'M_INVALID_PARAM');
    const otherDevice = await upload(alice, { device_keys: { ...keys, device_id: 'OTHER' } });
    assert.equal(otherDevice.status, 400);
    assertSpecError(otherDevice.body, 'M_INVALID_PARAM');

    const replaced = deviceKeysFor(alice, identity).keys; // same ed25519, new curve25519
    const changed = await upload(alice, { device_keys: replaced });
    assert.equal(changed.status, 400);
    assertSpecError(changed.body, 'M_INVALID_PARAM');
    const stored = (await query(bob, { [alice.user_id]: [] })).device_keys[alice.user_id]!;
    assert.deepEqual(stored[alice.device_id]!.keys, keys.keys, 'the first identity stays');
  });

  it('answers /keys/query with display names, all devices for an empty list, failures for remote servers', async () => {
    await api.put(
      `${CLIENT_V3}/devices/${alice.device_id}`,
      { display_name: 'Alice phone' },
      { token: alice.access_token },
    );
    const second = (await api.login('alice')).body;
    await upload(second, { device_keys: deviceKeysFor(second).keys });
    const all = await query(bob, {
      [alice.user_id]: [],
      '@nobody:localhost': [],
      '@remote:elsewhere.example': [],
    });
    const devices = all.device_keys[alice.user_id]!;
    assert.deepEqual(Object.keys(devices).sort(), [alice.device_id, second.device_id].sort());
    assert.deepEqual(devices[alice.device_id]!.unsigned, { device_display_name: 'Alice phone' });
    assert.deepEqual(all.device_keys['@nobody:localhost'], {});
    assert.ok(all.failures['elsewhere.example'], 'the remote server is a failure');
    const one = await query(bob, { [alice.user_id]: [second.device_id] });
    assert.deepEqual(Object.keys(one.device_keys[alice.user_id]!), [second.device_id]);
  });

  it('refuses a one-time key ID re-uploaded with other content, storing nothing of that upload', async () => {
    const { identity } = deviceKeysFor(bob);
    const keys = oneTimeKeys(bob, identity, 3, 'DUP');
    const first = await upload(bob, { one_time_keys: keys });
    assert.deepEqual(first.body, { one_time_key_counts: { signed_curve25519: 3 } });
    const again = await upload(bob, { one_time_keys: keys });
    assert.deepEqual(again.body, { one_time_key_counts: { signed_curve25519: 3 } });
    const clash = {
      ...oneTimeKeys(bob, identity, 1, 'NEW'),
      ...oneTimeKeys(bob, identity, 1, 'DUP'),
    };
    const refused = await upload(bob, { one_time_keys: clash });
    assert.equal(refused.status, 400);
    assertSpecError(refused.body, 'M_INVALID_PARAM');
    const counts = await upload(bob, {});
    assert.deepEqual(counts.body, { one_time_key_counts: { signed_curve25519: 3 } });
  });

  it('hands out one-time keys in upload order, then the fallback key, again and again', async () => {
    const carol = await api.register('carol');
    const { identity } = deviceKeysFor(carol);
    await upload(carol, { one_time_keys: oneTimeKeys(carol, identity, 3, 'ORD') });
    const fallback = identity.sign({ key: 'fallbackkey', fallback: true }, carol.user_id);
    await upload(carol, { fallback_keys: { 'signed_curve25519:FB1': fallback } });
    let synced = await syncOf(carol);
    assert.deepEqual(synced.device_one_time_keys_count, { signed_curve25519: 3 });
    assert.deepEqual(synced.device_unused_fallback_key_types, ['signed_curve25519']);
    // A long-poll that times out with nothing new still gives the real counts (else clients upload more).
    const { next_batch: since } = await syncOf(carol);
    const idle = await syncOf(carol, { since, timeout: '50' });
    assert.deepEqual(idle.device_one_time_keys_count, { signed_curve25519: 3 });
    assert.deepEqual(idle.device_unused_fallback_key_types, ['signed_curve25519']);

    const wanted = { [carol.user_id]: { [carol.device_id]: 'signed_curve25519' } };
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(...claimedIds(await claim(alice, wanted), carol));
    assert.deepEqual(ids, [
      'signed_curve25519:ORD0001',
      'signed_curve25519:ORD0002',
      'signed_curve25519:ORD0003',
      'signed_curve25519:FB1',
      'signed_curve25519:FB1',
    ]);
    const lastClaim = await claim(alice, wanted);
    assert.deepEqual(lastClaim.one_time_keys[carol.user_id]![carol.device_id], {
      'signed_curve25519:FB1': fallback,
    });
    synced = await syncOf(carol);
    assert.deepEqual(synced.device_one_time_keys_count, { signed_curve25519: 0 });
    assert.deepEqual(synced.device_unused_fallback_key_types, [], 'the fallback key was used');

    await upload(carol, { fallback_keys: { 'signed_curve25519:FB2': { key: 'other' } } });
    synced = await syncOf(carol);
    assert.deepEqual(synced.device_unused_fallback_key_types, ['signed_curve25519']);
    const none = await claim(alice, { [carol.user_id]: { [carol.device_id]: 'other_alg' } });
    assert.deepEqual(none.one_time_keys, {}, 'no key of an algorithm never uploaded');
  });

  it('never hands out a one-time key twice under concurrent claims', async () => {
    const dave = await api.register('dave');
    const { identity } = deviceKeysFor(dave);
    const count = 60;
    await upload(dave, { one_time_keys: oneTimeKeys(dave, identity, count, 'PAR') });
    const claimers = await Promise.all([1, 2, 3, 4].map((i) => api.register(`claimer${i}`)));
    const wanted = { [dave.user_id]: { [dave.device_id]: 'signed_curve25519' } };
    const results = await Promise.all(
      Array.from({ length: count + 10 }, (_, i) => claim(claimers[i % claimers.length]!, wanted)),
    );
    const ids = results.flatMap((body) => claimedIds(body, dave));
    assert.equal(ids.length, count, 'one key per claim while keys last, then none');
    assert.equal(new Set(ids).size, count, 'no key claimed twice');
    const synced = await syncOf(dave);
    assert.deepEqual(synced.device_one_time_keys_count, { signed_curve25519: 0 });
  });

  it('refuses malformed requests with the spec’s errors', async () => {
    const noField = await api.post(`${CLIENT_V3}/keys/query`, {}, { token: alice.access_token });
    assert.equal(noField.status, 400);
    assertSpecError(noField.body, 'M_MISSING_PARAM');
    const badClaim = await api.post(
      `${CLIENT_V3}/keys/claim`,
      { one_time_keys: { [bob.user_id]: 'x' } },
      { token: alice.access_token },
    );
    assert.equal(badClaim.status, 400);
    assertSpecError(badClaim.body, 'M_BAD_JSON');
    const badKeyId = await upload(alice, { one_time_keys: { nocolon: 'abc' } });
    assert.equal(badKeyId.status, 400);
    assertSpecError(badKeyId.body, 'M_BAD_JSON');
  });
});
