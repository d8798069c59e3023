/** OpenID tokens (POST /user/{userId}/openid/request_token): stored hashed, with their expiry. */

/** An OpenID token: who asked for it and until when it is valid. */
export interface OpenIdTokenRecord {
  /** hashToken() of the token: the token itself is never stored. */
  tokenHash: string;
  userId: string;
  expiresTs: number;
}

export interface OpenIdTokenStore {
  create(record: OpenIdTokenRecord): Promise<void>;
  /** The token's record when it is still valid at `now`; expired rows are not answered. */
  find(tokenHash: string, now: number): Promise<OpenIdTokenRecord | undefined>;
  /** Deletes the tokens expired at `now`; answers how many. */
  pruneExpired(now: number): Promise<number>;
}
