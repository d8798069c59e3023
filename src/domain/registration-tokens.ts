/**
 * Registration tokens kept in the database and the store that holds them
 * (storage.ts names it in `Storage`). Types only.
 */

/** A token as Synapse's Admin API shows it. */
export interface RegistrationToken {
  token: string;
  /** Null: unlimited. */
  usesAllowed: number | null;
  /** UIA sessions that passed the stage with this token and have not registered yet. */
  pending: number;
  /** Registrations that finished with this token. */
  completed: number;
  /** Milliseconds since the epoch; null: never expires. */
  expiryTime: number | null;
}

/** What reserving a use of a token for a UIA session came to. */
export type TokenReservation = 'reserved' | 'unusable' | 'unknown';

export interface RegistrationTokenStore {
  /** False if the token exists already. */
  create(token: RegistrationToken): Promise<boolean>;
  get(token: string): Promise<RegistrationToken | undefined>;
  list(): Promise<RegistrationToken[]>;
  /** Changes the fields given; undefined if there is no such token. */
  update(
    token: string,
    changes: { usesAllowed?: number | null; expiryTime?: number | null },
  ): Promise<RegistrationToken | undefined>;
  /** False if there was no such token. */
  delete(token: string): Promise<boolean>;
  /** Whether any token is stored, usable or not. */
  any(): Promise<boolean>;
  /**
   * In one transaction: gives back the pending uses of reservations that expired
   * before `now`, then, if the token is usable at `now`, counts one more pending
   * use and remembers it for `sessionId` until `expiresTs`. A session that holds
   * a reservation already keeps it ('reserved').
   */
  reserve(
    token: string,
    sessionId: string,
    now: number,
    expiresTs: number,
  ): Promise<TokenReservation>;
  /** The session's registration finished: its pending use becomes a completed one. */
  complete(sessionId: string): Promise<void>;
}
