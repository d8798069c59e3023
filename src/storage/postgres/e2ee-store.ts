/**
 * E2EE key storage on PostgreSQL: device keys, one-time and fallback keys,
 * cross-signing keys and signatures, device lists; the same behaviour as
 * ../sqlite/e2ee-store.ts. Device list changes take their positions from the
 * deviceLists stream before their transaction (see ../common/stream-positions.ts).
 */
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
import { KeyCountCaches, type KeyCountCache } from '../common/key-count-cache.js';
import { MemberEventHorizon } from '../common/member-event-horizon.js';
import {
  signatureSubjects,
  toChangeRecord,
  toOutboundHead,
  type ChangeRow,
  type OutboundRow,
} from '../common/device-list-rows.js';
import type { StreamPositions } from '../common/stream-positions.js';
import { pairKey } from '../../util/pair-key.js';
import type { PgDatabase, PgExecutor } from './database.js';

/** The key counts of each database's devices (see ../common/key-count-cache.ts). */
const keyCountCaches = new KeyCountCaches<PgDatabase>();

export function keyCountCacheOf(db: PgDatabase): KeyCountCache {
  return keyCountCaches.of(db);
}

/**
 * Must run inside the transaction of the change it records, at a position of
 * the deviceLists stream. A null device: the user's cross-signing keys (or
 * another server's user's list). Device renaming (user-stores.ts) uses it too.
 */
export async function recordDeviceListChange(
  tx: PgExecutor,
  userId: string,
  deviceId: string | null,
  position: number,
): Promise<void> {
  await tx.run(
    'INSERT INTO device_list_changes (stream_id, user_id, device_id) VALUES ($1, $2, $3)',
    [position, userId, deviceId],
  );
}

/** The one position of a stream run of one. */
const only = (positions: number[]): number => positions[0]!;

/**
 * What deleting a device removes besides its row and tokens: its keys, its
 * to-device queue and signatures on it; and a device list change, so others
 * hear of it. One statement (data-modifying WITH parts run to completion).
 */
const FORGET_DEVICE = `
  WITH device_keys AS (DELETE FROM e2e_device_keys WHERE user_id = $1 AND device_id = $2),
    one_time_keys AS (DELETE FROM e2e_one_time_keys WHERE user_id = $1 AND device_id = $2),
    fallback_keys AS (DELETE FROM e2e_fallback_keys WHERE user_id = $1 AND device_id = $2),
    signatures AS (
      DELETE FROM e2e_signatures WHERE target_user_id = $1 AND target_key_id = $2),
    messages AS (DELETE FROM to_device_messages WHERE user_id = $1 AND device_id = $2)
  INSERT INTO device_list_changes (stream_id, user_id, device_id) VALUES ($3, $1, $2)`;

/**
 * Called by the device deletion (user-stores.ts) inside its transaction, for
 * each device it deletes, with a position it took from `streams.deviceLists`
 * before the transaction (`streams.deviceLists.run(count, (positions) =>
 * db.transaction(...))`, one position per device). After the transaction has
 * committed or failed, the deletion calls `forgetDeviceAfterCommit` for each.
 *
 * The to-device queue states of to-device-store.ts need no update: deleting
 * messages leaves an empty queue empty and breaks no emptiness proof under way.
 */
export async function forgetDeviceInTransaction(
  tx: PgExecutor,
  userId: string,
  deviceId: string,
  deviceListPosition: number,
): Promise<void> {
  await tx.run(FORGET_DEVICE, [userId, deviceId, deviceListPosition]);
}

/** Drops what this process remembers of the device's keys; once its deletion has settled. */
export function forgetDeviceAfterCommit(db: PgDatabase, userId: string, deviceId: string): void {
  keyCountCaches.of(db).forget(userId, deviceId);
}

/** Key uploads of one device wait for each other (advisory lock scope, apart from key-locks.ts's). */
const DEVICE_UPLOAD_LOCK = 0x77656610;

interface DeviceKeyRow {
  user_id: string;
  device_id: string;
  key_json: string;
  display_name: string | null;
}

interface StoredOneTimeKey {
  algorithm: string;
  key_id: string;
  key_json: string;
}

interface SignatureRow {
  target_user_id: string;
  target_key_id: string;
  signer_user_id: string;
  signing_key_id: string;
  signature: string;
}

const KEYS_OF_DEVICES = `SELECT k.user_id, k.device_id, k.key_json, d.display_name
  FROM e2e_device_keys k JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id`;

/** Finds and removes the oldest key in one statement; concurrent claimers lock different keys. */
const TAKE_OLDEST_ONE_TIME_KEY = `
  DELETE FROM e2e_one_time_keys WHERE seq = (
    SELECT seq FROM e2e_one_time_keys
    WHERE user_id = $1 AND device_id = $2 AND algorithm = $3
    ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING key_id, key_json`;

const USE_FALLBACK_KEY = `
  UPDATE e2e_fallback_keys SET used = 1
  WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 RETURNING key_id, key_json`;

export class PgE2eeKeyStore implements E2eeKeyStore {
  constructor(
    private readonly db: PgDatabase,
    private readonly deviceLists: StreamPositions,
    private readonly keyCounts: KeyCountCache,
  ) {}

  async deviceKeys(userId: string, deviceIds: string[]): Promise<StoredDeviceKeys[]> {
    // The named devices in the order asked (a name given twice, twice), as SQLite's lookups.
    const rows =
      deviceIds.length === 0
        ? await this.db.rows<DeviceKeyRow>(
            `${KEYS_OF_DEVICES} WHERE k.user_id = $1 ORDER BY k.device_id COLLATE "C"`,
            [userId],
          )
        : await this.db.rows<DeviceKeyRow>(
            `${KEYS_OF_DEVICES}
             JOIN unnest($2::text[]) WITH ORDINALITY AS wanted (device_id, n)
               ON wanted.device_id = k.device_id
             WHERE k.user_id = $1 ORDER BY wanted.n`,
            [userId, deviceIds],
          );
    return rows.map((row) => ({
      userId: row.user_id,
      deviceId: row.device_id,
      keyJson: row.key_json,
      displayName: row.display_name,
    }));
  }

  async uploadKeys(upload: DeviceKeyUpload): Promise<DeviceKeyUploadResult> {
    try {
      if (upload.deviceKeysJson === undefined) {
        await this.db.transaction((tx) => this.storeKeys(tx, upload));
        return { ok: true };
      }
      const deviceKeysJson = upload.deviceKeysJson;
      const position = await this.deviceLists.run(1, (positions) =>
        this.db.transaction(async (tx) => {
          await this.storeKeys(tx, upload);
          await tx.run(
            `INSERT INTO e2e_device_keys (user_id, device_id, key_json) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json`,
            [upload.userId, upload.deviceId, deviceKeysJson],
          );
          await recordDeviceListChange(tx, upload.userId, upload.deviceId, only(positions));
          return only(positions);
        }),
      );
      return { ok: true, deviceListPosition: position };
    } catch (err) {
      // Thrown inside the transaction, so the keys stored before the conflict roll back too.
      if (err instanceof OneTimeKeyConflict) return { ok: false, conflictingKeyId: err.keyId };
      throw err;
    } finally {
      // Committed or rolled back: forgetting is right either way.
      this.keyCounts.forget(upload.userId, upload.deviceId);
    }
  }

  /** The one-time and fallback keys of an upload; throws OneTimeKeyConflict. */
  private async storeKeys(tx: PgExecutor, upload: DeviceKeyUpload): Promise<void> {
    const { userId, deviceId } = upload;
    // Uploads of the device wait for each other: none inserts a key ID another is checking.
    await tx.run('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [
      DEVICE_UPLOAD_LOCK,
      pairKey(userId, deviceId),
    ]);
    await this.storeOneTimeKeys(tx, userId, deviceId, upload.oneTimeKeys);
    // Re-uploading the same fallback key keeps its used flag; a new key starts unused.
    for (const key of upload.fallbackKeys) {
      await tx.run(
        `INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used)
         VALUES ($1, $2, $3, $4, $5, 0)
         ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET
           used = CASE WHEN e2e_fallback_keys.key_id = excluded.key_id
                        AND e2e_fallback_keys.key_json = excluded.key_json
                  THEN e2e_fallback_keys.used ELSE 0 END,
           key_id = excluded.key_id, key_json = excluded.key_json`,
        [userId, deviceId, key.algorithm, key.keyId, key.keyJson],
      );
    }
  }

  /**
   * Inserts new keys (oldest first in the order given), skips identical ones,
   * throws on an ID stored with other content. Under the device's upload lock
   * only claims and device deletion write its keys concurrently, and they only
   * delete: whatever they remove meanwhile, the result is one of a serial order.
   */
  private async storeOneTimeKeys(
    tx: PgExecutor,
    userId: string,
    deviceId: string,
    keys: KeyWithId[],
  ): Promise<void> {
    if (keys.length === 0) return;
    const stored = await tx.rows<StoredOneTimeKey>(
      `SELECT algorithm, key_id, key_json FROM e2e_one_time_keys
       WHERE user_id = $1 AND device_id = $2
         AND (algorithm, key_id) IN (SELECT * FROM unnest($3::text[], $4::text[]))`,
      [userId, deviceId, keys.map((k) => k.algorithm), keys.map((k) => k.keyId)],
    );
    const known = new Map(stored.map((row) => [pairKey(row.algorithm, row.key_id), row.key_json]));
    const fresh: KeyWithId[] = [];
    for (const key of keys) {
      const id = pairKey(key.algorithm, key.keyId);
      const json = known.get(id);
      if (json === undefined) {
        fresh.push(key);
        known.set(id, key.keyJson);
      } else if (json !== key.keyJson) {
        throw new OneTimeKeyConflict(`${key.algorithm}:${key.keyId}`);
      }
    }
    await tx.run(
      `INSERT INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json)
       SELECT $1, $2, k.algorithm, k.key_id, k.key_json
       FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS k (algorithm, key_id, key_json, n)
       ORDER BY k.n`,
      [
        userId,
        deviceId,
        fresh.map((k) => k.algorithm),
        fresh.map((k) => k.keyId),
        fresh.map((k) => k.keyJson),
      ],
    );
  }

  /** A copy each time: callers may change what they get. */
  async oneTimeKeyCounts(userId: string, deviceId: string): Promise<Record<string, number>> {
    return this.keyCounts.oneTimeKeyCounts(userId, deviceId, async () => {
      const rows = await this.db.rows<{ algorithm: string; count: number }>(
        `SELECT algorithm, COUNT(*) AS count FROM e2e_one_time_keys
         WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm ORDER BY algorithm COLLATE "C"`,
        [userId, deviceId],
      );
      return Object.fromEntries(rows.map((row) => [row.algorithm, row.count]));
    });
  }

  async unusedFallbackKeyTypes(userId: string, deviceId: string): Promise<string[]> {
    return this.keyCounts.unusedFallbackKeyTypes(userId, deviceId, async () => {
      const rows = await this.db.rows<{ algorithm: string }>(
        `SELECT algorithm FROM e2e_fallback_keys
         WHERE user_id = $1 AND device_id = $2 AND used = 0 ORDER BY algorithm COLLATE "C"`,
        [userId, deviceId],
      );
      return rows.map((row) => row.algorithm);
    });
  }

  /**
   * One transaction for the whole claim. Concurrent claimers of a device's keys
   * each take a different oldest key (SKIP LOCKED passes over the one another
   * claim is removing). Fallback keys are marked in one order of devices, so
   * two claims of several devices do not deadlock on them.
   */
  async claimKeys(claims: KeyClaim[]): Promise<ClaimedKey[]> {
    const order = claims
      .map((claim, index) => ({ claim, index }))
      .sort((a, b) => compareClaims(a.claim, b.claim) || a.index - b.index);
    try {
      const found = await this.db.transaction(async (tx) => {
        const byIndex: (ClaimedKey | undefined)[] = [];
        for (const { claim, index } of order) byIndex[index] = await claimOne(tx, claim);
        return byIndex;
      });
      return found.filter((key): key is ClaimedKey => key !== undefined);
    } finally {
      // Whether or not it had a key to give, and right even if the transaction rolled back.
      for (const claim of claims) this.keyCounts.forget(claim.userId, claim.deviceId);
    }
  }

  async crossSigningKeys(userId: string): Promise<Partial<Record<CrossSigningKeyType, string>>> {
    const rows = await this.db.rows<{ key_type: string; key_json: string }>(
      'SELECT key_type, key_json FROM e2e_cross_signing_keys WHERE user_id = $1',
      [userId],
    );
    return Object.fromEntries(rows.map((row) => [row.key_type, row.key_json]));
  }

  async setCrossSigningKeys(
    userId: string,
    keys: Partial<Record<CrossSigningKeyType, string>>,
  ): Promise<number> {
    return this.deviceLists.run(1, (positions) =>
      this.db.transaction(async (tx) => {
        for (const [type, json] of Object.entries(keys)) {
          await tx.run(
            `INSERT INTO e2e_cross_signing_keys (user_id, key_type, key_json) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, key_type) DO UPDATE SET key_json = excluded.key_json`,
            [userId, type, json],
          );
        }
        await recordDeviceListChange(tx, userId, null, only(positions));
        return only(positions);
      }),
    );
  }

  async signaturesOn(targetUserId: string): Promise<StoredSignature[]> {
    const rows = await this.db.rows<SignatureRow>(
      `SELECT target_user_id, target_key_id, signer_user_id, signing_key_id, signature
       FROM e2e_signatures WHERE target_user_id = $1
       ORDER BY target_key_id COLLATE "C", signer_user_id COLLATE "C", signing_key_id COLLATE "C"`,
      [targetUserId],
    );
    return rows.map((row) => ({
      targetUserId: row.target_user_id,
      targetKeyId: row.target_key_id,
      signerUserId: row.signer_user_id,
      signingKeyId: row.signing_key_id,
      signature: row.signature,
    }));
  }

  async addSignatures(signatures: StoredSignature[]): Promise<number | undefined> {
    if (signatures.length === 0) return undefined;
    // Read before the transaction, which needs its count of positions first. A device
    // deleted meanwhile gets a change anyway: its EDU then says it is deleted.
    const subjects = await this.signatureSubjects(signatures);
    return this.deviceLists.run(subjects.length, (positions) =>
      this.db.transaction(async (tx) => {
        for (const s of signatures) {
          await tx.run(
            `INSERT INTO e2e_signatures
               (target_user_id, target_key_id, signer_user_id, signing_key_id, signature)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (target_user_id, target_key_id, signer_user_id, signing_key_id)
             DO UPDATE SET signature = excluded.signature`,
            [s.targetUserId, s.targetKeyId, s.signerUserId, s.signingKeyId, s.signature],
          );
        }
        for (const [i, { userId, deviceId }] of subjects.entries()) {
          await recordDeviceListChange(tx, userId, deviceId, positions[i]!);
        }
        return positions[positions.length - 1];
      }),
    );
  }

  /** The changes the signatures make: of the devices they sign, else of cross-signing keys. */
  private async signatureSubjects(signatures: StoredSignature[]) {
    const rows = await this.db.rows<{ user_id: string; device_id: string }>(
      `SELECT k.user_id, k.device_id FROM e2e_device_keys k
       JOIN unnest($1::text[], $2::text[]) AS target (user_id, key_id)
         ON k.user_id = target.user_id AND k.device_id = target.key_id`,
      [signatures.map((s) => s.targetUserId), signatures.map((s) => s.targetKeyId)],
    );
    const devices = new Set(rows.map((row) => pairKey(row.user_id, row.device_id)));
    return signatureSubjects(signatures, (userId, keyId) => devices.has(pairKey(userId, keyId)));
  }
}

/** The device's oldest one-time key of the algorithm, removed; else its fallback key, marked used. */
async function claimOne(tx: PgExecutor, claim: KeyClaim): Promise<ClaimedKey | undefined> {
  const params = [claim.userId, claim.deviceId, claim.algorithm];
  const row =
    (await tx.row<{ key_id: string; key_json: string }>(TAKE_OLDEST_ONE_TIME_KEY, params)) ??
    (await tx.row<{ key_id: string; key_json: string }>(USE_FALLBACK_KEY, params));
  return row && { ...claim, keyId: row.key_id, keyJson: row.key_json };
}

/** By user, device and algorithm, as code units compare (any fixed order would do). */
function compareClaims(a: KeyClaim, b: KeyClaim): number {
  const compare = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  return (
    compare(a.userId, b.userId) ||
    compare(a.deviceId, b.deviceId) ||
    compare(a.algorithm, b.algorithm)
  );
}

/** Thrown inside the upload transaction to roll it back. */
class OneTimeKeyConflict extends Error {
  constructor(readonly keyId: string) {
    super(`One-time key ${keyId} exists with other content`);
  }
}

/** Everyone joined to a room `user` is joined to, the user included (once per room). */
function roomMatesOf(user: string): string {
  return `SELECT mate.state_key FROM current_state mine
    JOIN current_state mate ON mate.room_id = mine.room_id
      AND mate.type = 'm.room.member' AND mate.membership = 'join'
    WHERE mine.type = 'm.room.member' AND mine.state_key = ${user} AND mine.membership = 'join'`;
}

/** A condition: `other` is joined to a room that `user` is joined to (stops at the first). */
function sharesRoom(other: string, user: string): string {
  return `EXISTS (
    SELECT 1 FROM current_state mine
    JOIN current_state mate ON mate.room_id = mine.room_id AND mate.type = 'm.room.member'
      AND mate.state_key = ${other} AND mate.membership = 'join'
    WHERE mine.type = 'm.room.member' AND mine.state_key = ${user} AND mine.membership = 'join')`;
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

const MEMBER_EVENTS_IN_RANGE = `SELECT room_id, state_key, membership, stream_ordering FROM events
  WHERE stream_ordering > $1 AND stream_ordering <= $2 AND type = 'm.room.member'`;

export class PgDeviceListStore implements DeviceListStore {
  private readonly memberEvents: MemberEventHorizon;

  constructor(
    private readonly db: PgDatabase,
    private readonly deviceLists: StreamPositions,
    events: StreamPositions,
  ) {
    this.memberEvents = new MemberEventHorizon(
      () => events.persistedUpTo(),
      async (after, upTo) => {
        // Newest first by the primary key: stops at the first member event.
        const row = await db.row<{ stream_ordering: number }>(
          `SELECT stream_ordering FROM events
           WHERE stream_ordering > $1 AND stream_ordering <= $2 AND type = 'm.room.member'
           ORDER BY stream_ordering DESC LIMIT 1`,
          [after, upTo],
        );
        return row?.stream_ordering;
      },
    );
  }

  async maxPosition(): Promise<number> {
    return this.deviceLists.persistedUpTo();
  }

  async recordChange(userId: string, deviceId?: string): Promise<number> {
    return this.deviceLists.run(1, async (positions) => {
      await recordDeviceListChange(this.db, userId, deviceId ?? null, only(positions));
      return only(positions);
    });
  }

  /** Once readable: a change committed while a lower position is still being written waits for it. */
  async latestChangeOf(userId: string): Promise<number | undefined> {
    const row = await this.db.row<{ latest: number | null }>(
      'SELECT MAX(stream_id) AS latest FROM device_list_changes WHERE user_id = $1',
      [userId],
    );
    const latest = row?.latest ?? undefined;
    if (latest !== undefined) await this.deviceLists.reached(latest);
    return latest;
  }

  /** Once readable, as latestChangeOf. */
  async latestDeviceChangeOf(userId: string): Promise<number | undefined> {
    const row = await this.db.row<{ latest: number | null }>(
      `SELECT MAX(stream_id) AS latest FROM device_list_changes
       WHERE user_id = $1 AND device_id IS NOT NULL`,
      [userId],
    );
    const latest = row?.latest ?? undefined;
    if (latest !== undefined) await this.deviceLists.reached(latest);
    return latest;
  }

  async changesAfter(
    after: number,
    upTo: number,
    limit: number,
  ): Promise<DeviceListChangeRecord[]> {
    const rows = await this.db.rows<ChangeRow>(
      `SELECT stream_id, user_id, device_id FROM device_list_changes
       WHERE stream_id > $1 AND stream_id <= $2 ORDER BY stream_id LIMIT $3`,
      [after, upTo, limit],
    );
    return rows.map(toChangeRecord);
  }

  async outboundHeads(userIds: string[]): Promise<DeviceListOutboundHead[]> {
    if (userIds.length === 0) return [];
    const rows = await this.db.rows<OutboundRow>(
      `SELECT user_id, destination, stream_id FROM device_list_outbound
       WHERE user_id = ANY($1::text[])`,
      [userIds],
    );
    return rows.map(toOutboundHead);
  }

  async setOutboundHeads(heads: DeviceListOutboundHead[]): Promise<void> {
    if (heads.length === 0) return;
    await this.db.run(
      `INSERT INTO device_list_outbound (user_id, destination, stream_id)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
       ON CONFLICT (user_id, destination) DO UPDATE SET stream_id = excluded.stream_id`,
      [heads.map((h) => h.userId), heads.map((h) => h.destination), heads.map((h) => h.streamId)],
    );
  }

  async breakOutboundChains(chains: { userId: string; destination: string }[]): Promise<void> {
    if (chains.length === 0) return;
    await this.db.run(
      `DELETE FROM device_list_outbound o
       USING unnest($1::text[], $2::text[]) AS chain (user_id, destination)
       WHERE o.user_id = chain.user_id AND o.destination = chain.destination`,
      [chains.map((c) => c.userId), chains.map((c) => c.destination)],
    );
  }

  async changedUsers(viewerId: string, after: number, upTo: number): Promise<string[]> {
    // An empty range (the device list stream did not move): nothing to read.
    if (upTo <= after) return [];
    const rows = await this.db.rows<{ user_id: string }>(
      `SELECT c.user_id FROM device_list_changes c
       WHERE c.stream_id > $1 AND c.stream_id <= $2
         AND (c.user_id = $3 OR ${sharesRoom('c.user_id', '$3')})
       GROUP BY c.user_id ORDER BY c.user_id COLLATE "C"`,
      [after, upTo, viewerId],
    );
    return rows.map((row) => row.user_id);
  }

  async usersSharingRoomWith(userId: string): Promise<string[]> {
    const rows = await this.db.rows<{ state_key: string }>(
      `SELECT DISTINCT state_key FROM (${roomMatesOf('$1')}) mates`,
      [userId],
    );
    return rows.map((row) => row.state_key);
  }

  async usersSharingNoRoom(viewerId: string, userIds: string[]): Promise<string[]> {
    if (userIds.length === 0) return [];
    // In the order given (a user given twice, twice), as SQLite's filter.
    const rows = await this.db.rows<{ user_id: string }>(
      `SELECT c.user_id FROM unnest($1::text[]) WITH ORDINALITY AS c (user_id, n)
       WHERE NOT ${sharesRoom('c.user_id', '$2')} ORDER BY c.n`,
      [userIds, viewerId],
    );
    return rows.map((row) => row.user_id);
  }

  async joinedMembers(roomId: string): Promise<string[]> {
    const rows = await this.db.rows<{ state_key: string }>(
      `SELECT state_key FROM current_state
       WHERE room_id = $1 AND type = 'm.room.member' AND membership = 'join'
       ORDER BY state_key COLLATE "C"`,
      [roomId],
    );
    return rows.map((row) => row.state_key);
  }

  async memberChanges(roomIds: string[], after: number, upTo: number): Promise<MemberChange[]> {
    if (roomIds.length === 0 || (await this.memberEvents.noneIn(after, upTo))) return [];
    const rows = await this.db.rows<MemberRow>(
      `${MEMBER_EVENTS_IN_RANGE} AND room_id = ANY($3::text[]) ORDER BY stream_ordering`,
      [after, upTo, roomIds],
    );
    return rows.map(toMemberChange);
  }

  async ownMemberChanges(userId: string, after: number, upTo: number): Promise<MemberChange[]> {
    if (await this.memberEvents.noneIn(after, upTo)) return [];
    const rows = await this.db.rows<MemberRow>(
      `${MEMBER_EVENTS_IN_RANGE} AND state_key = $3 ORDER BY stream_ordering`,
      [after, upTo, userId],
    );
    return rows.map(toMemberChange);
  }
}
