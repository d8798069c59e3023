/** Cross-signing keys (/keys/device_signing/upload, behind UIA) and /keys/signatures/upload. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import {
  assertMatchesSpecDefinition,
  assertResponseMatchesSpec,
  assertSpecError,
} from '../support/spec-schemas.js';
import { crossSigningKey, deviceKeysFor, Ed25519Key } from '../support/e2ee.js';

type Json = Record<string, unknown>;
type QueryBody = {
  device_keys: Record<string, Record<string, Json>>;
  master_keys: Record<string, Json>;
  self_signing_keys: Record<string, Json>;
  user_signing_keys: Record<string, Json>;
};

const UPLOAD = `${CLIENT_V3}/keys/device_signing/upload`;
const SIGNATURES = `${CLIENT_V3}/keys/signatures/upload`;

describe('cross-signing', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob] = suite.users('alice', 'bob');
  const master = new Ed25519Key();
  const selfSigning = new Ed25519Key();
  const userSigning = new Ed25519Key();
  let aliceDevice: ReturnType<typeof deviceKeysFor>;
  let keys: Json;
  before(async () => {
    aliceDevice = deviceKeysFor(alice);
    await api.post(
      `${CLIENT_V3}/keys/upload`,
      { device_keys: aliceDevice.keys },
      { token: alice.access_token },
    );
    keys = {
      master_key: crossSigningKey(alice.user_id, 'master', master),
      self_signing_key: crossSigningKey(alice.user_id, 'self_signing', selfSigning, master),
      user_signing_key: crossSigningKey(alice.user_id, 'user_signing', userSigning, master),
    };
  });

  const query = async (who: Session, userId: string) => {
    const res = await api.post(
      `${CLIENT_V3}/keys/query`,
      { device_keys: { [userId]: [] } },
      { token: who.access_token },
    );
    assert.equal(res.status, 200);
    assertResponseMatchesSpec('post', `${CLIENT_V3}/keys/query`, 200, res.body);
    return res.body as unknown as QueryBody;
  };
  const upload = (who: Session, body: Json) => api.post(UPLOAD, body, { token: who.access_token });

  it('takes the first keys without UIA, and an identical retry too', async () => {
    const first = await upload(alice, keys);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assertResponseMatchesSpec('post', UPLOAD, 200, first.body);
    assert.equal((await upload(alice, keys)).status, 200, 'an idempotent retry needs no UIA');
    const forBob = await query(bob, alice.user_id);
    assert.deepEqual(forBob.master_keys[alice.user_id]!.keys, (keys.master_key as Json).keys);
    assert.ok(forBob.self_signing_keys[alice.user_id]);
    assert.equal(forBob.user_signing_keys[alice.user_id], undefined, 'only for its owner');
    assert.ok((await query(alice, alice.user_id)).user_signing_keys[alice.user_id]);
  });

  it('asks for UIA to replace keys, and refuses keys the master key did not sign', async () => {
    const newMaster = new Ed25519Key();
    const replacement = {
      master_key: crossSigningKey(alice.user_id, 'master', newMaster),
      self_signing_key: crossSigningKey(alice.user_id, 'self_signing', selfSigning, newMaster),
    };
    const challenge = await upload(alice, replacement);
    assert.equal(challenge.status, 401);
    assertMatchesSpecDefinition('definitions/auth_response.yaml', challenge.body);
    const unsigned = await upload(alice, {
      self_signing_key: crossSigningKey(alice.user_id, 'self_signing', new Ed25519Key()),
    });
    assert.equal(unsigned.status, 400);
    assertSpecError(unsigned.body, 'M_INVALID_SIGNATURE');
    const withAuth = await api.withPasswordAuth('POST', UPLOAD, replacement, {
      token: alice.access_token,
      user: 'alice',
    });
    assert.equal(withAuth.status, 200, JSON.stringify(withAuth.body));
    const seen = await query(bob, alice.user_id);
    assert.deepEqual(seen.master_keys[alice.user_id]!.keys, {
      [`ed25519:${newMaster.publicKey}`]: newMaster.publicKey,
    });
    // Back to the first keys for the next test (UIA again).
    const restored = await api.withPasswordAuth('POST', UPLOAD, keys, {
      token: alice.access_token,
      user: 'alice',
    });
    assert.equal(restored.status, 200);
  });

  it('stores valid signatures and reports each bad one in failures', async () => {
    const signedDevice = selfSigning.sign(aliceDevice.keys, alice.user_id);
    const bobMaster = new Ed25519Key();
    await upload(bob, { master_key: crossSigningKey(bob.user_id, 'master', bobMaster) });
    const bobMasterKey = (await query(alice, bob.user_id)).master_keys[bob.user_id]!;
    const signedBob = userSigning.sign(bobMasterKey, alice.user_id);
    const forged = new Ed25519Key().sign(
      aliceDevice.keys,
      alice.user_id,
      `ed25519:${selfSigning.publicKey}`,
    );
    const res = await api.post(
      SIGNATURES,
      {
        [alice.user_id]: { [alice.device_id]: signedDevice, UNKNOWN: signedDevice },
        [bob.user_id]: { [bobMaster.publicKey]: signedBob },
      },
      { token: alice.access_token },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertResponseMatchesSpec('post', SIGNATURES, 200, res.body);
    const failures = res.body.failures as Record<string, Record<string, Json>>;
    assert.deepEqual(Object.keys(failures), [alice.user_id]);
    assert.deepEqual(Object.keys(failures[alice.user_id]!), ['UNKNOWN']);

    const device = (await query(bob, alice.user_id)).device_keys[alice.user_id]![alice.device_id]!;
    const signatures = device.signatures as Record<string, Record<string, string>>;
    assert.ok(signatures[alice.user_id]![`ed25519:${selfSigning.publicKey}`]);
    const bobSeenByAlice = (await query(alice, bob.user_id)).master_keys[bob.user_id]!;
    const aliceSigs = (bobSeenByAlice.signatures as Record<string, Json>)[alice.user_id];
    assert.ok(aliceSigs?.[`ed25519:${userSigning.publicKey}`], 'the signer sees its signature');

    const bad = await api.post(
      SIGNATURES,
      { [alice.user_id]: { [alice.device_id]: forged } },
      { token: alice.access_token },
    );
    const badFailure = (bad.body.failures as Record<string, Record<string, Json>>)[alice.user_id]!;
    assert.equal(badFailure[alice.device_id]!.errcode, 'M_INVALID_SIGNATURE');
  });
});
