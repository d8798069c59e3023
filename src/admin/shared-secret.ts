/**
 * Synapse's shared-secret registration, the rules without I/O: the MAC a
 * registration request must carry, checked in constant time, and the nonces
 * that make every request single use (in memory, 60 seconds each).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long a nonce may be used, as Synapse. */
export const NONCE_LIFETIME_MS = 60_000;
/** Nonces outstanding at most (GET /register needs no token). */
export const MAX_OUTSTANDING_NONCES = 10_000;

export interface SharedSecretFields {
  nonce: string;
  username: string;
  password: string;
  admin: boolean;
}

/** Hex HMAC-SHA1 keyed by the secret over nonce NUL username NUL password NUL ("admin" | "notadmin"). */
export function registrationMac(secret: string, fields: SharedSecretFields): string {
  const hmac = createHmac('sha1', Buffer.from(secret, 'utf8'));
  hmac.update(fields.nonce, 'utf8');
  hmac.update('\x00');
  hmac.update(fields.username, 'utf8');
  hmac.update('\x00');
  hmac.update(fields.password, 'utf8');
  hmac.update('\x00');
  hmac.update(fields.admin ? 'admin' : 'notadmin');
  return hmac.digest('hex');
}

/** Whether `mac` is the request's MAC, compared in constant time (a MAC of any other length is wrong). */
export function macMatches(secret: string, fields: SharedSecretFields, mac: string): boolean {
  const expected = Buffer.from(registrationMac(secret, fields), 'utf8');
  const given = Buffer.from(mac, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Nonces handed out and not yet used or expired. */
export class NonceStore {
  private readonly issued = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly lifetimeMs = NONCE_LIFETIME_MS,
  ) {}

  issue(): string {
    this.sweep();
    // A flood of unauthenticated requests cannot grow this past the cap: the oldest go first.
    while (this.issued.size >= MAX_OUTSTANDING_NONCES) {
      this.issued.delete(this.issued.keys().next().value!);
    }
    const nonce = randomBytes(16).toString('hex');
    this.issued.set(nonce, this.now() + this.lifetimeMs);
    return nonce;
  }

  /** Whether the nonce was issued and is still valid; it is used up either way. */
  consume(nonce: string): boolean {
    const expires = this.issued.get(nonce);
    this.issued.delete(nonce);
    return expires !== undefined && expires > this.now();
  }

  /**
   * Expired nonces dropped, so unused ones do not pile up. Every nonce lives
   * as long, so the oldest (first in the map) expire first: the sweep stops
   * at the first one still valid.
   */
  private sweep(): void {
    const now = this.now();
    for (const [nonce, expires] of this.issued) {
      if (expires > now) break;
      this.issued.delete(nonce);
    }
  }
}
