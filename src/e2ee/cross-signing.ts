/**
 * Cross-signing: uploading a user's master, self-signing and user-signing keys
 * (/keys/device_signing/upload) and signatures made with them
 * (/keys/signatures/upload). Every accepted signature is checked first.
 */
import { MatrixError, errors } from '../protocol/errors.js';
import { canonicalJson } from '../events/canonical-json.js';
import type { CrossSigningKeyType, Storage, StoredSignature } from '../storage/storage.js';
import type { DeviceLists } from './device-lists.js';
import {
  CROSS_SIGNING_TYPES,
  checkCrossSigningKey,
  crossSigningPublicKey,
  isObject,
  isSignedBy,
  sameKeyContent,
  type JsonObject,
} from './key-rules.js';

type CrossSigningKeys = Partial<Record<CrossSigningKeyType, JsonObject>>;

const REQUEST_FIELDS: Record<CrossSigningKeyType, string> = {
  master: 'master_key',
  self_signing: 'self_signing_key',
  user_signing: 'user_signing_key',
};

const invalidSignature = (message: string) => new MatrixError(400, 'M_INVALID_SIGNATURE', message);

/** A failure of one key in /keys/signatures/upload. */
interface SignatureFailure {
  errcode: string;
  error: string;
}

/** The keys' store: cross-signing keys, signatures and the device keys they sign. */
export type CrossSigningServiceStorage = Pick<Storage, 'e2eeKeys'>;

export class CrossSigningService {
  constructor(
    private readonly storage: CrossSigningServiceStorage,
    private readonly deviceLists: DeviceLists,
  ) {}

  /**
   * POST /keys/device_signing/upload. `requireUia` runs unless the user has no
   * master key yet (first setup) or the request only repeats the stored keys
   * exactly (an idempotent retry), as the spec allows.
   */
  async upload(userId: string, body: JsonObject, requireUia: () => Promise<void>): Promise<void> {
    const uploaded = parseUpload(body, userId);
    const stored = await this.storedKeys(userId);
    const changed = (Object.keys(uploaded) as CrossSigningKeyType[]).filter(
      (type) =>
        stored[type] === undefined || canonicalJson(stored[type]) !== canonicalJson(uploaded[type]),
    );
    checkSignedByMaster(uploaded, stored, userId);
    if (stored.master !== undefined && changed.length > 0) await requireUia();
    if (changed.length === 0) return;
    const toStore = Object.fromEntries(
      changed.map((type) => [type, canonicalJson(uploaded[type])]),
    );
    await this.deviceLists.announce(
      userId,
      await this.storage.e2eeKeys.setCrossSigningKeys(userId, toStore),
    );
  }

  private async storedKeys(userId: string): Promise<CrossSigningKeys> {
    const stored = await this.storage.e2eeKeys.crossSigningKeys(userId);
    return Object.fromEntries(
      Object.entries(stored).map(([type, json]) => [type, JSON.parse(json) as JsonObject]),
    );
  }

  /** POST /keys/signatures/upload: stores every valid signature; returns the failures per key. */
  async uploadSignatures(
    signerId: string,
    body: JsonObject,
  ): Promise<Record<string, Record<string, SignatureFailure>>> {
    const failures: Record<string, Record<string, SignatureFailure>> = {};
    const accepted: StoredSignature[] = [];
    const signer = await this.storedKeys(signerId);
    for (const [userId, keys] of Object.entries(body)) {
      if (!isObject(keys)) throw errors.badJson(`Signatures for ${userId} must be an object`);
      for (const [keyId, signed] of Object.entries(keys)) {
        try {
          if (!isObject(signed)) throw errors.badJson('A signed key must be an object');
          accepted.push(...(await this.checkSignature(signerId, signer, userId, keyId, signed)));
        } catch (err) {
          if (!(err instanceof MatrixError)) throw err;
          (failures[userId] ??= {})[keyId] = { errcode: err.errcode, error: err.message };
        }
      }
    }
    if (accepted.length > 0) {
      await this.storage.e2eeKeys.addSignatures(accepted);
      for (const userId of new Set(accepted.map((s) => s.targetUserId))) {
        await this.deviceLists.announce(userId);
      }
    }
    return failures;
  }

  /** The signatures on one key the signer may add: checked against the stored key. */
  private async checkSignature(
    signerId: string,
    signer: CrossSigningKeys,
    userId: string,
    keyId: string,
    signed: JsonObject,
  ): Promise<StoredSignature[]> {
    if (userId !== signerId) {
      // Someone else's master key, signed with the signer's user-signing key.
      const target = (await this.storedKeys(userId)).master;
      if (!target || crossSigningPublicKey(target) !== keyId) throw errors.notFound('Unknown key');
      return signaturesBy(signed, target, userId, keyId, signerId, [
        crossSigningKeyOf(signer.user_signing),
      ]);
    }
    const [device] = await this.storage.e2eeKeys.deviceKeys(userId, [keyId]);
    if (device) {
      // One of the signer's devices, signed with their self-signing key.
      const target = JSON.parse(device.keyJson) as JsonObject;
      return signaturesBy(signed, target, userId, keyId, signerId, [
        crossSigningKeyOf(signer.self_signing),
      ]);
    }
    if (signer.master && crossSigningPublicKey(signer.master) === keyId) {
      // The signer's master key, signed by one of their devices.
      const devices = await this.storage.e2eeKeys.deviceKeys(userId, []);
      const deviceKeys = devices.map((d) => deviceSigningKey(JSON.parse(d.keyJson) as JsonObject));
      return signaturesBy(signed, signer.master, userId, keyId, signerId, deviceKeys);
    }
    throw errors.notFound('Unknown key');
  }
}

/** The request's keys, each checked for form and ownership. */
function parseUpload(body: JsonObject, userId: string): CrossSigningKeys {
  const keys: CrossSigningKeys = {};
  for (const type of CROSS_SIGNING_TYPES) {
    const value = body[REQUEST_FIELDS[type]];
    if (value !== undefined && value !== null)
      keys[type] = checkCrossSigningKey(value, type, userId);
  }
  return keys;
}

/** The self-signing and user-signing keys must carry a valid signature of the master key. */
function checkSignedByMaster(
  uploaded: CrossSigningKeys,
  stored: CrossSigningKeys,
  userId: string,
): void {
  const master = uploaded.master ?? stored.master;
  for (const type of ['self_signing', 'user_signing'] as const) {
    const key = uploaded[type];
    if (!key) continue;
    if (!master) throw errors.missingParam('master_key');
    const masterKey = crossSigningKeyOf(master)!;
    if (!isSignedBy(key, userId, masterKey.keyId, masterKey.publicKey)) {
      throw invalidSignature(`The ${type} key is not signed by the master key`);
    }
  }
}

/** A key's own ed25519 public key ID and value: `ed25519:<id>` in its `keys`. */
interface SigningKey {
  keyId: string;
  publicKey: string;
}

function deviceSigningKey(device: JsonObject): SigningKey | undefined {
  const keyId = `ed25519:${String(device.device_id)}`;
  const keys = isObject(device.keys) ? device.keys : {};
  const publicKey = keys[keyId];
  return typeof publicKey === 'string' ? { keyId, publicKey } : undefined;
}

function crossSigningKeyOf(key: JsonObject | undefined): SigningKey | undefined {
  if (!key) return undefined;
  const publicKey = crossSigningPublicKey(key);
  return { keyId: `ed25519:${publicKey}`, publicKey };
}

/**
 * The signatures on `signed` by any of `signingKeys`, once `signed` is shown to
 * be the stored key (same content) and each signature verifies.
 */
function signaturesBy(
  signed: JsonObject,
  stored: JsonObject,
  targetUserId: string,
  targetKeyId: string,
  signerId: string,
  signingKeys: (SigningKey | undefined)[],
): StoredSignature[] {
  if (!sameKeyContent(signed, stored))
    throw invalidSignature('The signed key is not the stored key');
  const found: StoredSignature[] = [];
  for (const key of signingKeys) {
    if (!key) continue;
    const signatures = isObject(signed.signatures) ? signed.signatures[signerId] : undefined;
    const signature = isObject(signatures) ? signatures[key.keyId] : undefined;
    if (typeof signature !== 'string') continue;
    if (!isSignedBy(signed, signerId, key.keyId, key.publicKey))
      throw invalidSignature('Invalid signature');
    found.push({
      targetUserId,
      targetKeyId,
      signerUserId: signerId,
      signingKeyId: key.keyId,
      signature,
    });
  }
  if (found.length === 0) throw invalidSignature('No signature by a key that may sign this key');
  return found;
}
