/**
 * Set-ups the E2EE storage contract tests (test/storage/e2ee, to-device, key
 * backup) share, through the Storage interface only: users with devices,
 * rooms and memberships.
 */
import assert from 'node:assert/strict';
import type { KeyWithId, Storage } from '../../src/storage/storage.js';
import { minimalPdu } from './pdus.js';

export const OTK = 'signed_curve25519';

/** A one-time or fallback key whose JSON names its ID. */
export const keyWithId = (keyId: string, algorithm = OTK): KeyWithId => ({
  algorithm,
  keyId,
  keyJson: JSON.stringify({ key: keyId }),
});

/** Creates the user (if new) with a session on each device; display names are `<device> name`. */
export async function createDevices(
  storage: Storage,
  userId: string,
  ...deviceIds: string[]
): Promise<void> {
  for (const deviceId of deviceIds) {
    const session = {
      userId,
      deviceId,
      initialDisplayName: `${deviceId} name`,
      tokenHash: `token-${userId}-${deviceId}`,
      ip: null,
      now: 1,
    };
    const created = await storage.users.createUser(
      { userId, passwordHash: null, isGuest: false, isAdmin: false, now: 1 },
      session,
    );
    if (!created) await storage.tokens.createSession(session);
  }
}

/** Rooms and member events, each event at the next depth; positions are the events'. */
export class Rooms {
  private events = 0;

  constructor(private readonly storage: Storage) {}

  async create(roomId: string, creator: string): Promise<void> {
    await this.storage.rooms.createRoom({ roomId, version: '11', creator }, 0);
    await this.append(roomId, 'm.room.create', '', creator, {});
  }

  /** The member event's stream position. */
  async setMembership(roomId: string, userId: string, membership: string): Promise<number> {
    return this.append(roomId, 'm.room.member', userId, userId, { membership });
  }

  /** A message (no state): its stream position. */
  async message(roomId: string, sender: string): Promise<number> {
    return this.append(roomId, 'm.room.message', undefined, sender, { body: 'hi' });
  }

  private async append(
    roomId: string,
    type: string,
    stateKey: string | undefined,
    sender: string,
    content: Record<string, string>,
  ): Promise<number> {
    this.events += 1;
    const record = await this.storage.rooms.persistEvent({
      eventId: `$e${this.events}`,
      roomId,
      pdu: minimalPdu({ type, stateKey, content, depth: this.events, roomId, sender }),
    });
    assert.ok(record.streamOrdering > 0);
    return record.streamOrdering;
  }
}
