/** Real ed25519 keys for E2EE tests: device keys and cross-signing keys signed as clients sign them. */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../../src/events/canonical-json.js';
import type { Session } from './client.js';

type Json = Record<string, unknown>;

const SPKI_PREFIX_BYTES = 12;

export class Ed25519Key {
  readonly publicKey: string;
  private readonly privateKey: KeyObject;

  constructor() {
    const pair = generateKeyPairSync('ed25519');
    this.privateKey = pair.privateKey;
    const der = pair.publicKey.export({ format: 'der', type: 'spki' });
    this.publicKey = der.subarray(SPKI_PREFIX_BYTES).toString('base64').replace(/=+$/, '');
  }

  /** `object` with this key's signature added under `userId` / `keyId`. */
  sign<T extends Json>(object: T, userId: string, keyId = `ed25519:${this.publicKey}`): T {
    const unsignedCopy: Json = { ...object };
    delete unsignedCopy.signatures;
    delete unsignedCopy.unsigned;
    const signature = sign(null, Buffer.from(canonicalJson(unsignedCopy)), this.privateKey)
      .toString('base64')
      .replace(/=+$/, '');
    const signatures = { ...((object.signatures as Record<string, Json>) ?? {}) };
    signatures[userId] = { ...(signatures[userId] ?? {}), [keyId]: signature };
    return { ...object, signatures };
  }
}

/** A device's identity: an ed25519 signing key and a (random, never used) curve25519 key. */
export function deviceKeysFor(session: Session, identity = new Ed25519Key()) {
  const curve = new Ed25519Key().publicKey;
  const keys = {
    user_id: session.user_id,
    device_id: session.device_id,
    algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
    keys: {
      [`curve25519:${session.device_id}`]: curve,
      [`ed25519:${session.device_id}`]: identity.publicKey,
    },
  };
  return { identity, keys: identity.sign(keys, session.user_id, `ed25519:${session.device_id}`) };
}

/** `count` signed curve25519 one-time keys, IDs `<prefix>0001`… in upload order. */
export function oneTimeKeys(session: Session, identity: Ed25519Key, count: number, prefix = 'AAA') {
  const keys: Record<string, Json> = {};
  for (let i = 1; i <= count; i++) {
    const id = `${prefix}${String(i).padStart(4, '0')}`;
    keys[`signed_curve25519:${id}`] = identity.sign(
      { key: new Ed25519Key().publicKey },
      session.user_id,
      `ed25519:${session.device_id}`,
    );
  }
  return keys;
}

/** A cross-signing key of one usage, signed by `signer` (the master key) when given. */
export function crossSigningKey(
  userId: string,
  usage: 'master' | 'self_signing' | 'user_signing',
  key: Ed25519Key,
  signer?: Ed25519Key,
): Json {
  const body = {
    user_id: userId,
    usage: [usage],
    keys: { [`ed25519:${key.publicKey}`]: key.publicKey },
  };
  return signer ? signer.sign(body, userId) : body;
}
