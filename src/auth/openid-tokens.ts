/**
 * OpenID tokens (client-server "OpenID", server-server "OpenID"): a user asks for
 * a token to hand an integration server, which exchanges it at
 * /_matrix/federation/v1/openid/userinfo for the user's ID. The token proves
 * nothing else: it is not an access token and no other endpoint accepts it.
 * Stored only hashed, as access tokens are; valid an hour, as Synapse's.
 */
import { randomBytes } from 'node:crypto';
import type { OpenIdTokenStore } from '../domain/openid-tokens.js';
import { hashToken } from './secrets.js';

/** Synapse's `openid_token_lifetime`: an hour, in milliseconds. */
export const OPENID_TOKEN_LIFETIME_MS = 60 * 60 * 1000;
/** Expired rows are swept this often besides each new token's sweep. */
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;
/** Tells a leaked OpenID token apart from an access token (wft_). */
const PREFIX = 'wfo_';

export interface OpenIdTokenAnswer {
  access_token: string;
  token_type: 'Bearer';
  matrix_server_name: string;
  expires_in: number;
}

export class OpenIdTokenService {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: OpenIdTokenStore,
    private readonly serverName: string,
    private readonly onError: (err: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => void this.prune(), PRUNE_INTERVAL_MS);
    this.timer.unref();
  }

  /** A new token for `userId`; stored (hashed) before it is answered, so it works at once. */
  async issue(userId: string): Promise<OpenIdTokenAnswer> {
    const token = PREFIX + randomBytes(24).toString('base64url');
    const now = this.now();
    await this.store.create({
      tokenHash: hashToken(token),
      userId,
      expiresTs: now + OPENID_TOKEN_LIFETIME_MS,
    });
    await this.prune();
    return {
      access_token: token,
      token_type: 'Bearer',
      matrix_server_name: this.serverName,
      expires_in: Math.floor(OPENID_TOKEN_LIFETIME_MS / 1000),
    };
  }

  /** The user a valid token was issued to; undefined for an unknown or expired one. */
  async userOf(token: string): Promise<string | undefined> {
    return (await this.store.find(hashToken(token), this.now()))?.userId;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async prune(): Promise<void> {
    try {
      await this.store.pruneExpired(this.now());
    } catch (err) {
      // A failed sweep leaves rows that are never answered; the next sweep retries.
      this.onError(err);
    }
  }
}
