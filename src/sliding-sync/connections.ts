/**
 * Sliding sync connections: per (user, device, `conn_id`), what each room was
 * last sent with (which `required_state`, up to which stream position, with
 * which timeline limit and unread counts) and where every other stream stood,
 * keyed by the `pos` the response carried.
 *
 * Every response that says something gets a new pos, stored before it is
 * answered. The pos it was built on is kept too: a client that cancelled a
 * request and sends the same pos again is answered from the same state, so
 * nothing is lost (to-device messages, say, are acknowledged only by a later
 * pos). Older ones are forgotten. A pos is found only for the connection it
 * was issued to (a connection's data is its device's alone); anything else is
 * M_UNKNOWN_POS, after which the client starts afresh. Stored in the
 * database, so a restart loses nothing; unused connections expire.
 */
import { randomBytes } from 'node:crypto';
import { MatrixError } from '../protocol/errors.js';
import type { ConnectionKey, SlidingSyncStore } from '../domain/sliding-sync-connections.js';
import { STREAM_NAMES, isValidPosition, type StreamPositions } from '../sync/stream-token.js';

/** What a room was last sent with on a connection. */
export interface RoomSent {
  /** requiredStateKey() of the `required_state` its state was sent for. */
  stateKey: string;
  /** Its timeline and state were sent up to this stream position. */
  upTo: number;
  timelineLimit: number;
  notificationCount: number;
  highlightCount: number;
  /** Sent as an invite or knock (stripped state only): once joined it is sent whole. */
  stripped?: true;
}

export interface ConnectionState {
  /** The upper bound of the response: where every stream resumes. */
  positions: StreamPositions;
  rooms: ReadonlyMap<string, RoomSent>;
  /** Each list's count as last sent: a change is worth a response. */
  listCounts: ReadonlyMap<string, number>;
}

/** Connections unused for this long are forgotten (their client starts afresh). */
export const CONNECTION_EXPIRY_MS = 7 * 24 * 3600_000;
/** A user's connections beyond this many, the least recently used first, are forgotten. */
export const MAX_CONNECTIONS_PER_USER = 50;

export function unknownPos(): MatrixError {
  return new MatrixError(400, 'M_UNKNOWN_POS', 'Unknown or expired position: start afresh');
}

/** The stored form: configs once each, a row per room. */
interface StoredState {
  v: 1;
  positions: Record<string, number>;
  configs: string[];
  /** roomId → [config index, upTo, timeline limit, notifications, highlights, 1 if stripped]. */
  rooms: Record<string, [number, number, number, number, number, 1?]>;
  lists: Record<string, number>;
}

export function encodeState(state: ConnectionState): string {
  const configs: string[] = [];
  const index = new Map<string, number>();
  const rooms: StoredState['rooms'] = {};
  for (const [roomId, sent] of state.rooms) {
    let i = index.get(sent.stateKey);
    if (i === undefined) {
      i = configs.push(sent.stateKey) - 1;
      index.set(sent.stateKey, i);
    }
    const row: StoredState['rooms'][string] = [
      i,
      sent.upTo,
      sent.timelineLimit,
      sent.notificationCount,
      sent.highlightCount,
    ];
    if (sent.stripped) row.push(1);
    rooms[roomId] = row;
  }
  const stored: StoredState = {
    v: 1,
    positions: { ...state.positions },
    configs,
    rooms,
    lists: Object.fromEntries(state.listCounts),
  };
  return JSON.stringify(stored);
}

/** The state, or undefined when the text is not one this code wrote (then the pos is unknown). */
export function decodeState(text: string): ConnectionState | undefined {
  let stored: StoredState;
  try {
    stored = JSON.parse(text) as StoredState;
  } catch {
    return undefined;
  }
  if (stored?.v !== 1) return undefined;
  const positions = {} as Record<(typeof STREAM_NAMES)[number], number>;
  for (const stream of STREAM_NAMES) {
    const position = stored.positions[stream] ?? 0;
    if (!isValidPosition(position)) return undefined;
    positions[stream] = position;
  }
  const rooms = new Map<string, RoomSent>();
  for (const [
    roomId,
    [i, upTo, timelineLimit, notificationCount, highlightCount, stripped],
  ] of Object.entries(stored.rooms)) {
    const stateKey = stored.configs[i];
    if (stateKey === undefined) return undefined;
    const sent: RoomSent = { stateKey, upTo, timelineLimit, notificationCount, highlightCount };
    rooms.set(roomId, stripped === 1 ? { ...sent, stripped: true } : sent);
  }
  return { positions, rooms, listCounts: new Map(Object.entries(stored.lists)) };
}

export class SlidingSyncConnections {
  constructor(
    private readonly store: Pick<SlidingSyncStore, 'loadPosition' | 'savePosition'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The state `pos` was issued with, for this connection only; else M_UNKNOWN_POS. */
  async load(key: ConnectionKey, pos: string): Promise<ConnectionState> {
    const text = await this.store.loadPosition(key, pos);
    const state = text === undefined ? undefined : decodeState(text);
    if (!state) throw unknownPos();
    return state;
  }

  /** Stores the state after a response built on `basePos` (none: a new connection); answers its pos. */
  async save(
    key: ConnectionKey,
    basePos: string | undefined,
    state: ConnectionState,
  ): Promise<string> {
    const pos = randomBytes(12).toString('base64url');
    const now = this.now();
    await this.store.savePosition(
      { key, pos, basePos, stateJson: encodeState(state), now },
      { expireBefore: now - CONNECTION_EXPIRY_MS, maxConnectionsPerUser: MAX_CONNECTIONS_PER_USER },
    );
    return pos;
  }
}
