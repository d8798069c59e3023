/**
 * Server-side key backup (/room_keys): encrypted room keys a client stores so
 * its other and future devices can read old messages. Versions count up per
 * user; the highest one not deleted is current, and keys are only written to
 * the current version (so two clients with different backups do not mix them).
 */
import { MatrixError, errors } from '../protocol/errors.js';
import type { BackupKeyRecord, BackupVersionRecord, Storage } from '../storage/storage.js';
import { pairKey } from '../util/pair-key.js';
import { isBetterBackupKey, isObject, type JsonObject } from './key-rules.js';

/** The session keys of a PUT, narrowed to the path's room / session. */
export interface KeyPath {
  roomId?: string;
  sessionId?: string;
}

export interface EtagAndCount {
  etag: string;
  count: number;
}

const VERSION_PATTERN = /^[1-9][0-9]{0,15}$/;

function versionNotFound(version: string): MatrixError {
  return errors.notFound(`Unknown backup version: ${version}`);
}

/** A path's version string as stored (an integer); anything else is a version that cannot exist. */
function parseVersion(version: string): number {
  if (!VERSION_PATTERN.test(version)) throw versionNotFound(version);
  return Number(version);
}

/** The key backup's own store. */
export type KeyBackupServiceStorage = Pick<Storage, 'keyBackup'>;

export class KeyBackupService {
  constructor(private readonly storage: KeyBackupServiceStorage) {}

  async createVersion(userId: string, body: JsonObject): Promise<{ version: string }> {
    const { algorithm, authData } = parseVersionBody(body);
    const version = await this.storage.keyBackup.createVersion(userId, algorithm, authData);
    return { version: String(version) };
  }

  /** GET /room_keys/version[/{version}]: the named version, or the current one. */
  async getVersion(userId: string, version?: string): Promise<JsonObject> {
    const record = await this.storage.keyBackup.getVersion(
      userId,
      version === undefined ? undefined : parseVersion(version),
    );
    if (!record) {
      throw version === undefined ? errors.notFound('No backup version') : versionNotFound(version);
    }
    return {
      algorithm: record.algorithm,
      auth_data: JSON.parse(record.authDataJson) as JsonObject,
      version: String(record.version),
      ...(await this.etagAndCount(record)),
    };
  }

  /** PUT /room_keys/version/{version}: only auth_data may change. */
  async updateVersion(userId: string, version: string, body: JsonObject): Promise<void> {
    const record = await this.existing(userId, version);
    const { algorithm, authData } = parseVersionBody(body);
    if (algorithm !== record.algorithm) {
      throw errors.invalidParam("A backup version's algorithm cannot change");
    }
    if (body.version !== undefined && body.version !== version) {
      throw errors.invalidParam('The body names another version than the path');
    }
    await this.storage.keyBackup.updateAuthData(userId, record.version, authData);
  }

  async deleteVersion(userId: string, version: string): Promise<void> {
    if (!(await this.storage.keyBackup.deleteVersion(userId, parseVersion(version)))) {
      throw versionNotFound(version);
    }
  }

  /**
   * PUT /room_keys/keys[...]: only into the current version; the better key of
   * a session wins. The choice rests on the stored keys read after the etag:
   * when another write changed the version meanwhile (the etag moved), the
   * store writes nothing and the choice is made again on what it holds now.
   */
  async putKeys(
    userId: string,
    version: string | undefined,
    path: KeyPath,
    body: JsonObject,
  ): Promise<EtagAndCount> {
    if (version === undefined) throw errors.missingParam('version');
    let current = await this.currentVersion(userId, version);
    const keys = keysOfBody(path, body);
    for (;;) {
      const better = await this.betterThanStored(userId, current.version, keys);
      if (await this.storage.keyBackup.putKeys(userId, current.version, better, current.etag)) {
        break;
      }
      current = await this.currentVersion(userId, version);
    }
    return this.etagAndCount((await this.storage.keyBackup.getVersion(userId))!);
  }

  /** The current version, which the request must name. */
  private async currentVersion(userId: string, version: string): Promise<BackupVersionRecord> {
    const current = await this.storage.keyBackup.getVersion(userId);
    if (!current) throw versionNotFound(version);
    if (String(current.version) !== version) {
      throw new MatrixError(403, 'M_WRONG_ROOM_KEYS_VERSION', 'Not the current backup version', {
        current_version: String(current.version),
      });
    }
    return current;
  }

  /** The candidates that are new to the version or better than its stored key of their session. */
  private async betterThanStored(
    userId: string,
    version: number,
    candidates: BackupKeyRecord[],
  ): Promise<BackupKeyRecord[]> {
    const stored = new Map(
      (await this.storage.keyBackup.keysOfSessions(userId, version, candidates)).map((key) => [
        pairKey(key.roomId, key.sessionId),
        key,
      ]),
    );
    return candidates.filter((candidate) => {
      const storedKey = stored.get(pairKey(candidate.roomId, candidate.sessionId));
      return !storedKey || isBetterBackupKey(candidate, storedKey);
    });
  }

  /** GET /room_keys/keys[...], shaped like the path asked. */
  async getKeys(userId: string, version: string | undefined, path: KeyPath): Promise<JsonObject> {
    if (version === undefined) throw errors.missingParam('version');
    const record = await this.existing(userId, version);
    const keys = await this.storage.keyBackup.getKeys(
      userId,
      record.version,
      path.roomId,
      path.sessionId,
    );
    if (path.sessionId !== undefined) {
      const [key] = keys;
      if (!key) throw errors.notFound('No key for this session');
      return keyData(key);
    }
    const rooms: Record<string, { sessions: JsonObject }> = {};
    for (const key of keys)
      (rooms[key.roomId] ??= { sessions: {} }).sessions[key.sessionId] = keyData(key);
    if (path.roomId !== undefined) return rooms[path.roomId] ?? { sessions: {} };
    return { rooms };
  }

  async deleteKeys(
    userId: string,
    version: string | undefined,
    path: KeyPath,
  ): Promise<EtagAndCount> {
    if (version === undefined) throw errors.missingParam('version');
    const record = await this.existing(userId, version);
    await this.storage.keyBackup.deleteKeys(userId, record.version, path.roomId, path.sessionId);
    return this.etagAndCount((await this.storage.keyBackup.getVersion(userId, record.version))!);
  }

  private async existing(userId: string, version: string): Promise<BackupVersionRecord> {
    const record = await this.storage.keyBackup.getVersion(userId, parseVersion(version));
    if (!record) throw versionNotFound(version);
    return record;
  }

  private async etagAndCount(record: BackupVersionRecord): Promise<EtagAndCount> {
    return {
      etag: String(record.etag),
      count: await this.storage.keyBackup.countKeys(record.userId, record.version),
    };
  }
}

function parseVersionBody(body: JsonObject): { algorithm: string; authData: string } {
  const { algorithm, auth_data: authData } = body;
  if (algorithm === undefined) throw errors.missingParam('algorithm');
  if (typeof algorithm !== 'string') throw errors.badJson('algorithm must be a string');
  if (authData === undefined) throw errors.missingParam('auth_data');
  if (!isObject(authData)) throw errors.badJson('auth_data must be an object');
  return { algorithm, authData: JSON.stringify(authData) };
}

/** The keys a PUT body holds, in the shape its path implies (all rooms, a room, a session). */
function keysOfBody(path: KeyPath, body: JsonObject): BackupKeyRecord[] {
  const { roomId, sessionId } = path;
  if (roomId !== undefined && sessionId !== undefined) {
    return [parseKey(roomId, sessionId, body)];
  }
  if (roomId !== undefined) return sessionsOf(roomId, body);
  const rooms = body.rooms;
  if (!isObject(rooms)) throw errors.badJson('rooms must be an object');
  return Object.entries(rooms).flatMap(([id, room]) => {
    if (!isObject(room)) throw errors.badJson(`rooms.${id} must be an object`);
    return sessionsOf(id, room);
  });
}

function sessionsOf(roomId: string, room: JsonObject): BackupKeyRecord[] {
  if (!isObject(room.sessions)) throw errors.badJson('sessions must be an object');
  return Object.entries(room.sessions).map(([sessionId, key]) => parseKey(roomId, sessionId, key));
}

function parseKey(roomId: string, sessionId: string, key: unknown): BackupKeyRecord {
  if (!isObject(key)) throw errors.badJson(`The key of session ${sessionId} must be an object`);
  const { first_message_index: index, forwarded_count: forwarded, is_verified: verified } = key;
  if (!Number.isSafeInteger(index) || (index as number) < 0) {
    throw errors.badJson('first_message_index must be a non-negative integer');
  }
  if (!Number.isSafeInteger(forwarded) || (forwarded as number) < 0) {
    throw errors.badJson('forwarded_count must be a non-negative integer');
  }
  if (typeof verified !== 'boolean') throw errors.badJson('is_verified must be a boolean');
  if (!isObject(key.session_data)) throw errors.badJson('session_data must be an object');
  return {
    roomId,
    sessionId,
    firstMessageIndex: index as number,
    forwardedCount: forwarded as number,
    isVerified: verified,
    sessionDataJson: JSON.stringify(key.session_data),
  };
}

function keyData(key: BackupKeyRecord): JsonObject {
  return {
    first_message_index: key.firstMessageIndex,
    forwarded_count: key.forwardedCount,
    is_verified: key.isVerified,
    session_data: JSON.parse(key.sessionDataJson) as JsonObject,
  };
}
