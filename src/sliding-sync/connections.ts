/**
 * Sliding sync connections: per (user, device, `conn_id`), what each room was
 * last sent with (which `required_state`, up to which stream position, with
 * which timeline limit and unread counts) and where every other stream stood,
 * keyed by the `pos` the response carried.
 *
 * Every response that says something gets a new pos, written right after
 * the answer (`issue`): a request bringing it back waits for the write. The
 * pos it was built on is kept too: a client that cancelled a request and
 * sends the same pos again is answered from the same state, so nothing is
 * lost (to-device messages, say, are acknowledged only by a later pos). Older
 * ones are forgotten. A pos is found only for the connection it was issued to
 * (a connection's data is its device's alone); anything else is M_UNKNOWN_POS,
 * after which the client starts afresh. Stored in the database, so a restart
 * loses nothing (a pos answered in the moment before a crash at worst, whose
 * client then starts afresh); unused connections expire.
 */
import { randomBytes } from 'node:crypto';
import { MatrixError } from '../protocol/errors.js';
import { LruCache } from '../util/lru-cache.js';
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
  /**
   * Its counts were not checked by the response that left this state (it was
   * outside the windows, or not joined): they are read when it is next sent.
   */
  uncounted?: true;
}

export interface ConnectionState {
  /** The upper bound of the response: where every stream resumes. */
  positions: StreamPositions;
  rooms: ReadonlyMap<string, RoomSent>;
  /** Each list's count as last sent: a change is worth a response. */
  listCounts: ReadonlyMap<string, number>;
  /**
   * The counted rooms' unread counts hold every notification and read move at
   * event positions up to here (the evaluation's progress when they were read),
   * and every read receipt up to `positions.receipts`: only rooms with a change
   * after it need their counts read again (count-rules.ts). Undefined (a state
   * stored before this was kept): every room's counts are read.
   */
  countsAfter?: number;
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
  /**
   * roomId → [config index, upTo, timeline limit, notifications, highlights,
   * 1 if stripped (0 when only uncounted follows), 1 if uncounted].
   */
  rooms: Record<string, StoredRoom>;
  lists: Record<string, number>;
  /** countsAfter; absent in a state stored before it was kept. */
  c?: number;
}

type StoredRoom = [number, number, number, number, number, (0 | 1)?, 1?];

function storedRoom(configIndex: number, sent: RoomSent): StoredRoom {
  const row: StoredRoom = [
    configIndex,
    sent.upTo,
    sent.timelineLimit,
    sent.notificationCount,
    sent.highlightCount,
  ];
  if (sent.stripped || sent.uncounted) row.push(sent.stripped ? 1 : 0);
  if (sent.uncounted) row.push(1);
  return row;
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
    rooms[roomId] = storedRoom(i, sent);
  }
  const stored: StoredState = {
    v: 1,
    positions: { ...state.positions },
    configs,
    rooms,
    lists: Object.fromEntries(state.listCounts),
  };
  if (state.countsAfter !== undefined) stored.c = state.countsAfter;
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
  for (const [roomId, row] of Object.entries(stored.rooms)) {
    const sent = decodeRoom(row, stored.configs);
    if (!sent) return undefined;
    rooms.set(roomId, sent);
  }
  const state: ConnectionState = {
    positions,
    rooms,
    listCounts: new Map(Object.entries(stored.lists)),
  };
  // A state stored before countsAfter was kept cannot tell which counts were checked.
  if (stored.c === undefined) return state;
  return Number.isSafeInteger(stored.c) ? { ...state, countsAfter: stored.c } : undefined;
}

function decodeRoom(row: StoredRoom, configs: readonly string[]): RoomSent | undefined {
  const [i, upTo, timelineLimit, notificationCount, highlightCount, stripped, uncounted] = row;
  const stateKey = configs[i];
  if (stateKey === undefined) return undefined;
  return {
    stateKey,
    upTo,
    timelineLimit,
    notificationCount,
    highlightCount,
    ...(stripped === 1 ? { stripped: true } : {}),
    ...(uncounted === 1 ? { uncounted: true } : {}),
  };
}

/**
 * Positions whose state is kept decoded (a 500-room state takes about 0.5 ms
 * to decode, on every request): the newest ones, those the clients bring back.
 */
const STATES_KEPT = 256;

export class SlidingSyncConnections {
  /** Positions answered whose row is being written: a request with one waits for it. */
  private readonly writing = new Map<string, Promise<boolean>>();
  /** Per pos, the stored text and what it decodes to. */
  private readonly decoded = new LruCache<string, { text: string; state: ConnectionState }>(
    STATES_KEPT,
  );

  constructor(
    private readonly store: Pick<SlidingSyncStore, 'loadPosition' | 'savePosition'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The state `pos` was issued with, for this connection only; else M_UNKNOWN_POS. */
  async load(key: ConnectionKey, pos: string): Promise<ConnectionState> {
    // A pos whose row failed to be written is unknown: its client starts afresh.
    if ((await this.writing.get(pos)) === false) throw unknownPos();
    const text = await this.store.loadPosition(key, pos);
    if (text === undefined) throw unknownPos();
    // The row still decides (forgotten, expired, another connection's): memory only saves the decoding.
    const kept = this.decoded.get(pos);
    if (kept?.text === text) return kept.state;
    const state = decodeState(text);
    if (!state) throw unknownPos();
    this.decoded.set(pos, { text, state });
    return state;
  }

  /** Stores the state after a response built on `basePos` (none: a new connection); answers its pos. */
  async save(
    key: ConnectionKey,
    basePos: string | undefined,
    state: ConnectionState,
  ): Promise<string> {
    const pos = newPos();
    await this.write(key, pos, basePos, state);
    return pos;
  }

  /**
   * A new pos at once, its row written behind (after the current turn, so the
   * answer goes out first): a request that brings it back before the write
   * is done waits for the write (`load`). A pos whose write fails, or that
   * the process dies before writing (a moment after the answer), is
   * M_UNKNOWN_POS: its client starts afresh and loses nothing, as when a
   * power cut loses the newest pos (the SQLite store's note).
   */
  issue(key: ConnectionKey, basePos: string | undefined, state: ConnectionState): string {
    const pos = newPos();
    const written = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.write(key, pos, basePos, state))
      .then(
        () => true,
        () => false,
      )
      .finally(() => this.writing.delete(pos));
    this.writing.set(pos, written);
    return pos;
  }

  /** Resolves once every pos issued so far is written (or failed). */
  async flush(): Promise<void> {
    await Promise.all(this.writing.values());
  }

  private async write(
    key: ConnectionKey,
    pos: string,
    basePos: string | undefined,
    state: ConnectionState,
  ): Promise<void> {
    const now = this.now();
    const text = encodeState(state);
    await this.store.savePosition(
      { key, pos, basePos, stateJson: text, now },
      { expireBefore: now - CONNECTION_EXPIRY_MS, maxConnectionsPerUser: MAX_CONNECTIONS_PER_USER },
    );
    this.decoded.set(pos, { text, state });
  }
}

function newPos(): string {
  return randomBytes(12).toString('base64url');
}
