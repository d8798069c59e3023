/** Helpers for suites about what users do around rooms: rooms, messages, and /sync read as the spec's schema. */
import assert from 'node:assert/strict';
import { type Api, CLIENT_V3, type Session } from './client.js';
import { assertResponseMatchesSpec } from './spec-schemas.js';

export type Body = Record<string, unknown>;
export interface SyncEvent {
  event_id?: string;
  type: string;
  sender?: string;
  state_key?: string;
  content: Body;
}
export interface JoinedSection {
  timeline: { events: SyncEvent[] };
  state: { events: SyncEvent[] };
  ephemeral: { events: SyncEvent[] };
  account_data: { events: SyncEvent[] };
}
export interface SyncBody {
  next_batch: string;
  rooms: { join: Record<string, JoinedSection>; invite: Record<string, unknown> };
  account_data: { events: SyncEvent[] };
  presence: { events: SyncEvent[] };
}

export const SYNC = `${CLIENT_V3}/sync`;

export class UserHelpers {
  private txn = 0;

  constructor(readonly api: Api) {}

  async createRoom(who: Session, body: Body = {}): Promise<string> {
    const res = await this.api.post(`${CLIENT_V3}/createRoom`, body, { token: who.access_token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return String(res.body.room_id);
  }

  async join(who: Session, roomId: string): Promise<void> {
    const res = await this.api.post(`${CLIENT_V3}/join/${roomId}`, {}, { token: who.access_token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }

  async invite(who: Session, roomId: string, userId: string): Promise<void> {
    await this.postOk(who, `${CLIENT_V3}/rooms/${roomId}/invite`, { user_id: userId });
  }

  async leave(who: Session, roomId: string): Promise<void> {
    await this.postOk(who, `${CLIENT_V3}/rooms/${roomId}/leave`);
  }

  /** POST as `who`, which must answer 200; returns the body. */
  async postOk(who: Session, path: string, body: Body = {}): Promise<Body> {
    const res = await this.api.post(path, body, { token: who.access_token });
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
    return res.body;
  }

  async send(who: Session, roomId: string, body: string): Promise<string> {
    const res = await this.api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/t${++this.txn}`,
      { msgtype: 'm.text', body },
      { token: who.access_token },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return String(res.body.event_id);
  }

  /** GET /sync, checked against the spec's schema. */
  async sync<T = SyncBody>(who: Session, query: Record<string, string> = {}): Promise<T> {
    const params = new URLSearchParams(query).toString();
    const res = await this.api.get(`${SYNC}${params ? `?${params}` : ''}`, {
      token: who.access_token,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertResponseMatchesSpec('get', SYNC, 200, res.body);
    return res.body as unknown as T;
  }
}

/** The ephemeral events of a type in a room's section (none if the room is absent). */
export function ephemeralOf(body: SyncBody, roomId: string, type: string): SyncEvent[] {
  return (body.rooms.join[roomId]?.ephemeral.events ?? []).filter((e) => e.type === type);
}
