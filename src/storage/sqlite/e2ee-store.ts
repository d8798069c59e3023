/** E2EE key storage: device keys, one-time and fallback keys, cross-signing keys and signatures, device lists. */
import type {
  ClaimedKey,
  CrossSigningKeyType,
  DeviceKeyUpload,
  DeviceKeyUploadResult,
  DeviceListChangeRecord,
  DeviceListOutboundHead,
  DeviceListStore,
  E2eeKeyStore,
  KeyClaim,
  KeyWithId,
  MemberChange,
  StoredDeviceKeys,
  StoredSignature,
} from '../storage.js';
import { MemberEventHorizon } from '../common/member-event-horizon.js';
import { KeyCountCaches } from '../common/key-count-cache.js';
import {
  signatureSubjects,
  toChangeRecord,
  toOutboundHead,
  type ChangeRow,
  type OutboundRow,
} from '../common/device-list-rows.js';
import { type SqliteDatabase, writeTransaction } from './database.js';
import { ROOM_MATES, sharesRoom } from './room-mates.js';

/** The key counts of each database's devices (see ../common/key-count-cache.ts). */
const keyCountCaches = new KeyCountCaches<SqliteDatabase>();

/**
 * Appends to the deviceLists stream; shared by key uploads, device deletion,
 * renaming (sqlite-storage.ts) and cross-signing. A null device: the user's
 * cross-signing keys (or another server's user's list).
 */
export class DeviceListChanges {
  private readonly insert;

  constructor(db: SqliteDatabase) {
    this.insert = db
      .prepare(
        'INSERT INTO device_list_changes (user_id, device_id) VALUES (?, ?) RETURNING stream_id',
      )
      .pluck();
  }

  /** Must run inside the transaction of the change it records. */
  record(userId: string, deviceId: string | null): number {
    return this.insert.get(userId, deviceId) as number;
  }
}

/**
 * What deleting a device removes besides its row and tokens: its keys, its
 * to-device queue and signatures on it; and a device list change, so others
 * hear of it. Called by the device deletion of sqlite-storage.ts, inside its transaction.
 */
export class DeviceKeyCleanup {
  private readonly statements;
  private readonly changes;
  private readonly keyCounts;

  constructor(db: SqliteDatabase) {
    this.statements = [
      'DELETE FROM e2e_device_keys WHERE user_id = ? AND device_id = ?',
      'DELETE FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ?',
      'DELETE FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ?',
      'DELETE FROM e2e_signatures WHERE target_user_id = ? AND target_key_id = ?',
      'DELETE FROM to_device_messages WHERE user_id = ? AND device_id = ?',
    ].map((sql) => db.prepare(sql));
    this.changes = new DeviceListChanges(db);
    this.keyCounts = keyCountCaches.of(db);
  }

  /**
   * The to-device queue states of to-device-store.ts need no update: deleting
   * messages leaves an empty queue empty and breaks no emptiness proof under way.
   */
  forgetDevice(userId: string, deviceId: string): void {
    for (const statement of this.statements) statement.run(userId, deviceId);
    this.keyCounts.forget(userId, deviceId);
    this.changes.record(userId, deviceId);
  }
}

interface DeviceKeyRow {
  user_id: string;
  device_id: string;
  key_json: string;
  display_name: string | null;
}

export class SqliteE2eeKeyStore implements E2eeKeyStore {
  private readonly changes;
  private readonly selectDeviceKeys;
  private readonly selectAllDeviceKeys;
  private readonly upsertDeviceKeys;
  private readonly selectOneTimeKey;
  private readonly insertOneTimeKey;
  private readonly upsertFallbackKey;
  private readonly countOneTimeKeys;
  private readonly selectUnusedFallback;
  private readonly takeOldestOneTimeKey;
  private readonly useFallbackKey;
  private readonly selectCrossSigning;
  private readonly upsertCrossSigning;
  private readonly selectSignatures;
  private readonly upsertSignature;
  private readonly keyCounts;

  constructor(private readonly db: SqliteDatabase) {
    this.changes = new DeviceListChanges(db);
    this.keyCounts = keyCountCaches.of(db);
    const keysOfDevices = `SELECT k.user_id, k.device_id, k.key_json, d.display_name
       FROM e2e_device_keys k JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id`;
    this.selectDeviceKeys = db.prepare(`${keysOfDevices} WHERE k.user_id = ? AND k.device_id = ?`);
    this.selectAllDeviceKeys = db.prepare(
      `${keysOfDevices} WHERE k.user_id = ? ORDER BY k.device_id`,
    );
    this.upsertDeviceKeys = db.prepare(
      `INSERT INTO e2e_device_keys (user_id, device_id, key_json) VALUES (?, ?, ?)
       ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json`,
    );
    this.selectOneTimeKey = db
      .prepare(
        `SELECT key_json FROM e2e_one_time_keys
         WHERE user_id = ? AND device_id = ? AND algorithm = ? AND key_id = ?`,
      )
      .pluck();
    this.insertOneTimeKey = db.prepare(
      `INSERT INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json)
       VALUES (?, ?, ?, ?, ?)`,
    );
    // Re-uploading the same fallback key keeps its used flag; a new key starts unused.
    this.upsertFallbackKey = db.prepare(
      `INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used)
       VALUES (?, ?, ?, ?, ?, 0)
       ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET
         used = CASE WHEN key_id = excluded.key_id AND key_json = excluded.key_json THEN used ELSE 0 END,
         key_id = excluded.key_id, key_json = excluded.key_json`,
    );
    this.countOneTimeKeys = db.prepare(
      `SELECT algorithm, COUNT(*) AS count FROM e2e_one_time_keys
       WHERE user_id = ? AND device_id = ? GROUP BY algorithm`,
    );
    this.selectUnusedFallback = db
      .prepare(
        `SELECT algorithm FROM e2e_fallback_keys
         WHERE user_id = ? AND device_id = ? AND used = 0 ORDER BY algorithm`,
      )
      .pluck();
    // One statement finds and removes the oldest key, so no two claims can get it.
    this.takeOldestOneTimeKey = db.prepare(
      `DELETE FROM e2e_one_time_keys WHERE seq = (
         SELECT seq FROM e2e_one_time_keys
         WHERE user_id = ? AND device_id = ? AND algorithm = ? ORDER BY seq LIMIT 1)
       RETURNING key_id, key_json`,
    );
    this.useFallbackKey = db.prepare(
      `UPDATE e2e_fallback_keys SET used = 1
       WHERE user_id = ? AND device_id = ? AND algorithm = ? RETURNING key_id, key_json`,
    );
    this.selectCrossSigning = db.prepare(
      'SELECT key_type, key_json FROM e2e_cross_signing_keys WHERE user_id = ?',
    );
    this.upsertCrossSigning = db.prepare(
      `INSERT INTO e2e_cross_signing_keys (user_id, key_type, key_json) VALUES (?, ?, ?)
       ON CONFLICT (user_id, key_type) DO UPDATE SET key_json = excluded.key_json`,
    );
    this.selectSignatures = db.prepare(
      `SELECT target_user_id, target_key_id, signer_user_id, signing_key_id, signature
       FROM e2e_signatures WHERE target_user_id = ?`,
    );
    this.upsertSignature = db.prepare(
      `INSERT INTO e2e_signatures
         (target_user_id, target_key_id, signer_user_id, signing_key_id, signature)
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (target_user_id, target_key_id, signer_user_id, signing_key_id)
       DO UPDATE SET signature = excluded.signature`,
    );
  }

  async deviceKeys(userId: string, deviceIds: string[]): Promise<StoredDeviceKeys[]> {
    const rows =
      deviceIds.length === 0
        ? (this.selectAllDeviceKeys.all(userId) as DeviceKeyRow[])
        : deviceIds.flatMap((id) => this.selectDeviceKeys.all(userId, id) as DeviceKeyRow[]);
    return rows.map((row) => ({
      userId: row.user_id,
      deviceId: row.device_id,
      keyJson: row.key_json,
      displayName: row.display_name,
    }));
  }

  async uploadKeys(upload: DeviceKeyUpload): Promise<DeviceKeyUploadResult> {
    try {
      return writeTransaction(this.db, () => this.storeUpload(upload))();
    } catch (err) {
      // Thrown inside the transaction, so the keys stored before the conflict roll back too.
      if (err instanceof OneTimeKeyConflict) return { ok: false, conflictingKeyId: err.keyId };
      throw err;
    } finally {
      // Committed or rolled back: forgetting is right either way.
      this.keyCounts.forget(upload.userId, upload.deviceId);
    }
  }

  private storeUpload(upload: DeviceKeyUpload): DeviceKeyUploadResult {
    const { userId, deviceId } = upload;
    this.storeOneTimeKeys(userId, deviceId, upload.oneTimeKeys);
    for (const key of upload.fallbackKeys) {
      this.upsertFallbackKey.run(userId, deviceId, key.algorithm, key.keyId, key.keyJson);
    }
    if (upload.deviceKeysJson === undefined) return { ok: true };
    this.upsertDeviceKeys.run(userId, deviceId, upload.deviceKeysJson);
    return { ok: true, deviceListPosition: this.changes.record(userId, deviceId) };
  }

  /** Inserts new keys, skips identical ones, throws on an ID stored with other content. */
  private storeOneTimeKeys(userId: string, deviceId: string, keys: KeyWithId[]): void {
    for (const key of keys) {
      const stored = this.selectOneTimeKey.get(userId, deviceId, key.algorithm, key.keyId);
      if (stored === undefined) {
        this.insertOneTimeKey.run(userId, deviceId, key.algorithm, key.keyId, key.keyJson);
      } else if (stored !== key.keyJson) {
        throw new OneTimeKeyConflict(`${key.algorithm}:${key.keyId}`);
      }
    }
  }

  /** A copy each time: callers may change what they get. */
  async oneTimeKeyCounts(userId: string, deviceId: string): Promise<Record<string, number>> {
    return this.keyCounts.oneTimeKeyCounts(userId, deviceId, async () => {
      const rows = this.countOneTimeKeys.all(userId, deviceId) as {
        algorithm: string;
        count: number;
      }[];
      return Object.fromEntries(rows.map((row) => [row.algorithm, row.count]));
    });
  }

  async unusedFallbackKeyTypes(userId: string, deviceId: string): Promise<string[]> {
    return this.keyCounts.unusedFallbackKeyTypes(
      userId,
      deviceId,
      async () => this.selectUnusedFallback.all(userId, deviceId) as string[],
    );
  }

  /**
   * One transaction for the whole claim. better-sqlite3 runs it synchronously, so
   * no other claim interleaves. On PostgreSQL the same shape holds with
   * `DELETE … WHERE seq = (SELECT seq … ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
   * RETURNING …`: concurrent claimers each lock a different oldest key instead
   * of waiting on (or both reading) the same one.
   */
  async claimKeys(claims: KeyClaim[]): Promise<ClaimedKey[]> {
    return writeTransaction(this.db, () => {
      const claimed: ClaimedKey[] = [];
      for (const claim of claims) {
        const { userId, deviceId, algorithm } = claim;
        // Whether or not it has a key to give, and right even if the transaction rolls back.
        this.keyCounts.forget(userId, deviceId);
        const row = (this.takeOldestOneTimeKey.get(userId, deviceId, algorithm) ??
          this.useFallbackKey.get(userId, deviceId, algorithm)) as
          { key_id: string; key_json: string } | undefined;
        if (row) claimed.push({ ...claim, keyId: row.key_id, keyJson: row.key_json });
      }
      return claimed;
    })();
  }

  async crossSigningKeys(userId: string): Promise<Partial<Record<CrossSigningKeyType, string>>> {
    const rows = this.selectCrossSigning.all(userId) as { key_type: string; key_json: string }[];
    return Object.fromEntries(rows.map((row) => [row.key_type, row.key_json]));
  }

  async setCrossSigningKeys(
    userId: string,
    keys: Partial<Record<CrossSigningKeyType, string>>,
  ): Promise<number> {
    return writeTransaction(this.db, () => {
      for (const [type, json] of Object.entries(keys))
        this.upsertCrossSigning.run(userId, type, json);
      return this.changes.record(userId, null);
    })();
  }

  async signaturesOn(targetUserId: string): Promise<StoredSignature[]> {
    const rows = this.selectSignatures.all(targetUserId) as {
      target_user_id: string;
      target_key_id: string;
      signer_user_id: string;
      signing_key_id: string;
      signature: string;
    }[];
    return rows.map((row) => ({
      targetUserId: row.target_user_id,
      targetKeyId: row.target_key_id,
      signerUserId: row.signer_user_id,
      signingKeyId: row.signing_key_id,
      signature: row.signature,
    }));
  }

  async addSignatures(signatures: StoredSignature[]): Promise<number | undefined> {
    return writeTransaction(this.db, () => {
      for (const s of signatures) {
        this.upsertSignature.run(
          s.targetUserId,
          s.targetKeyId,
          s.signerUserId,
          s.signingKeyId,
          s.signature,
        );
      }
      const isDevice = (userId: string, keyId: string) =>
        this.selectDeviceKeys.get(userId, keyId) !== undefined;
      let position: number | undefined;
      for (const { userId, deviceId } of signatureSubjects(signatures, isDevice)) {
        position = this.changes.record(userId, deviceId);
      }
      return position;
    })();
  }
}

/** Thrown inside the upload transaction to roll it back. */
class OneTimeKeyConflict extends Error {
  constructor(readonly keyId: string) {
    super(`One-time key ${keyId} exists with other content`);
  }
}

export class SqliteDeviceListStore implements DeviceListStore {
  private readonly changes;
  private readonly selectMax;
  private readonly selectLatestOf;
  private readonly selectLatestDeviceChangeOf;
  private readonly selectChangesAfter;
  private readonly outbound;
  private readonly selectChanged;
  private readonly selectSharing;
  private readonly selectShares;
  private readonly selectJoined;
  private readonly selectMemberChanges;
  private readonly selectOwnChanges;
  private readonly newestMemberEvent: MemberEventHorizon;

  constructor(private readonly db: SqliteDatabase) {
    this.changes = new DeviceListChanges(db);
    const selectNewestEvent = db
      .prepare('SELECT COALESCE(MAX(stream_ordering), 0) FROM events')
      .pluck();
    // Newest first by the primary key: stops at the first member event.
    const selectNewestMember = db
      .prepare(
        `SELECT stream_ordering FROM events
         WHERE stream_ordering > ? AND stream_ordering <= ? AND type = 'm.room.member'
         ORDER BY stream_ordering DESC LIMIT 1`,
      )
      .pluck();
    this.newestMemberEvent = new MemberEventHorizon(
      () => selectNewestEvent.get() as number,
      async (after, upTo) => selectNewestMember.get(after, upTo) as number | undefined,
    );
    this.selectMax = db
      .prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'device_list_changes'`)
      .pluck();
    this.selectLatestOf = db
      .prepare('SELECT MAX(stream_id) FROM device_list_changes WHERE user_id = ?')
      .pluck();
    this.selectLatestDeviceChangeOf = db
      .prepare(
        `SELECT MAX(stream_id) FROM device_list_changes
         WHERE user_id = ? AND device_id IS NOT NULL`,
      )
      .pluck();
    this.selectChangesAfter = db.prepare(
      `SELECT stream_id, user_id, device_id FROM device_list_changes
       WHERE stream_id > ? AND stream_id <= ? ORDER BY stream_id LIMIT ?`,
    );
    this.outbound = new OutboundChains(db);
    this.selectChanged = db
      .prepare(
        `SELECT DISTINCT c.user_id FROM device_list_changes c
         WHERE c.stream_id > ? AND c.stream_id <= ?
           AND (c.user_id = ? OR ${sharesRoom('c.user_id')})
         ORDER BY c.user_id`,
      )
      .pluck();
    this.selectSharing = db.prepare(`SELECT DISTINCT * FROM (${ROOM_MATES})`).pluck();
    this.selectShares = db.prepare(`SELECT ${sharesRoom('?')} AS shares`).pluck();
    this.selectJoined = db
      .prepare(
        `SELECT state_key FROM current_state
         WHERE room_id = ? AND type = 'm.room.member' AND membership = 'join'`,
      )
      .pluck();
    this.selectMemberChanges = db.prepare(
      `SELECT room_id, state_key, membership, stream_ordering FROM events
       WHERE stream_ordering > ? AND stream_ordering <= ? AND type = 'm.room.member'
       ORDER BY stream_ordering`,
    );
    this.selectOwnChanges = db.prepare(
      `SELECT room_id, state_key, membership, stream_ordering FROM events
       WHERE state_key = ? AND stream_ordering > ? AND stream_ordering <= ? AND type = 'm.room.member'
       ORDER BY stream_ordering`,
    );
  }

  async maxPosition(): Promise<number> {
    return (this.selectMax.get() as number | undefined) ?? 0;
  }

  async recordChange(userId: string, deviceId?: string): Promise<number> {
    return writeTransaction(this.db, () => this.changes.record(userId, deviceId ?? null))();
  }

  async latestChangeOf(userId: string): Promise<number | undefined> {
    return (this.selectLatestOf.get(userId) as number | null) ?? undefined;
  }

  async latestDeviceChangeOf(userId: string): Promise<number | undefined> {
    return (this.selectLatestDeviceChangeOf.get(userId) as number | null) ?? undefined;
  }

  async changesAfter(
    after: number,
    upTo: number,
    limit: number,
  ): Promise<DeviceListChangeRecord[]> {
    return (this.selectChangesAfter.all(after, upTo, limit) as ChangeRow[]).map(toChangeRecord);
  }

  async outboundHeads(userIds: string[]): Promise<DeviceListOutboundHead[]> {
    return this.outbound.heads(userIds);
  }

  async setOutboundHeads(heads: DeviceListOutboundHead[]): Promise<void> {
    if (heads.length > 0) this.outbound.set(heads);
  }

  async breakOutboundChains(chains: { userId: string; destination: string }[]): Promise<void> {
    if (chains.length > 0) this.outbound.break(chains);
  }

  async changedUsers(viewerId: string, after: number, upTo: number): Promise<string[]> {
    // An empty range (the device list stream did not move): nothing to read.
    if (upTo <= after) return [];
    return this.selectChanged.all(after, upTo, viewerId, viewerId) as string[];
  }

  async usersSharingRoomWith(userId: string): Promise<string[]> {
    return this.selectSharing.all(userId) as string[];
  }

  async usersSharingNoRoom(viewerId: string, userIds: string[]): Promise<string[]> {
    return userIds.filter((userId) => this.selectShares.get(userId, viewerId) === 0);
  }

  async joinedMembers(roomId: string): Promise<string[]> {
    return this.selectJoined.all(roomId) as string[];
  }

  async memberChanges(roomIds: string[], after: number, upTo: number): Promise<MemberChange[]> {
    if (roomIds.length === 0 || (await this.newestMemberEvent.noneIn(after, upTo))) return [];
    // One range of the event stream (incremental syncs cover few events), not one query per room.
    const rooms = new Set(roomIds);
    const rows = this.selectMemberChanges.all(after, upTo) as MemberRow[];
    return rows.filter((row) => rooms.has(row.room_id)).map(toMemberChange);
  }

  async ownMemberChanges(userId: string, after: number, upTo: number): Promise<MemberChange[]> {
    if (await this.newestMemberEvent.noneIn(after, upTo)) return [];
    return (this.selectOwnChanges.all(userId, after, upTo) as MemberRow[]).map(toMemberChange);
  }
}

/** device_list_outbound: the federation sender's chains of device list EDUs. */
class OutboundChains {
  private readonly selectHeads;
  private readonly upsert;
  private readonly remove;

  constructor(private readonly db: SqliteDatabase) {
    this.selectHeads = db.prepare(
      'SELECT user_id, destination, stream_id FROM device_list_outbound WHERE user_id = ?',
    );
    this.upsert = db.prepare(
      `INSERT INTO device_list_outbound (user_id, destination, stream_id) VALUES (?, ?, ?)
       ON CONFLICT (user_id, destination) DO UPDATE SET stream_id = excluded.stream_id`,
    );
    this.remove = db.prepare(
      'DELETE FROM device_list_outbound WHERE user_id = ? AND destination = ?',
    );
  }

  heads(userIds: string[]): DeviceListOutboundHead[] {
    return userIds.flatMap((userId) =>
      (this.selectHeads.all(userId) as OutboundRow[]).map(toOutboundHead),
    );
  }

  set(heads: DeviceListOutboundHead[]): void {
    writeTransaction(this.db, () => {
      for (const head of heads) this.upsert.run(head.userId, head.destination, head.streamId);
    })();
  }

  break(chains: { userId: string; destination: string }[]): void {
    writeTransaction(this.db, () => {
      for (const chain of chains) this.remove.run(chain.userId, chain.destination);
    })();
  }
}

interface MemberRow {
  room_id: string;
  state_key: string;
  membership: string | null;
  stream_ordering: number;
}

const toMemberChange = (row: MemberRow): MemberChange => ({
  roomId: row.room_id,
  userId: row.state_key,
  membership: row.membership ?? 'leave',
  streamOrdering: row.stream_ordering,
});
