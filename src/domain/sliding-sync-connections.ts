/**
 * The store of simplified sliding sync's connections (sliding-sync/connections.ts):
 * one row per `pos` issued, holding what the connection had been sent up to it.
 */

/** A connection: one device's `conn_id` (a device runs several side by side). */
export interface ConnectionKey {
  userId: string;
  deviceId: string;
  /** '' for a request without one. */
  connId: string;
}

export interface NewPosition {
  key: ConnectionKey;
  pos: string;
  /** The connection's state after the response that carries `pos` (opaque to storage). */
  stateJson: string;
  /** The pos the response was built on: kept, so a client that resends it is answered. */
  basePos?: string;
  now: number;
}

export interface ConnectionLimits {
  /** Positions issued before this are forgotten (a connection unused that long expires). */
  expireBefore: number;
  /** A user's connections beyond this many (the least recently used) are forgotten. */
  maxConnectionsPerUser: number;
}

export interface SlidingSyncStore {
  /** The state stored with `pos`, only when it was issued to this very connection. */
  loadPosition(key: ConnectionKey, pos: string): Promise<string | undefined>;
  /**
   * Stores a new pos in one transaction that also forgets the connection's
   * other positions (but `basePos`), the expired ones, and the user's
   * connections beyond the bound.
   */
  savePosition(position: NewPosition, limits: ConnectionLimits): Promise<void>;
  /**
   * The rooms of the user's own read receipts (m.read, m.read.private) at
   * receipts stream positions in (after, upTo]: their unread counts moved.
   */
  readReceiptRooms(userId: string, after: number, upTo: number): Promise<string[]>;
  /** Per room, the stream position of its latest event at or before `upTo` (of the given types, if any). */
  latestPositions(
    roomIds: readonly string[],
    upTo: number,
    types?: readonly string[],
  ): Promise<Map<string, number>>;
}
