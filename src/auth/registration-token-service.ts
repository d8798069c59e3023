/**
 * Registration tokens as registration meets them: whether registration needs
 * one, whether a token is valid, and its use counted race-free.
 *
 * Tokens come from two places. Those listed in the config stay valid as they
 * always were: unlimited, never expiring, never stored (removing one from the
 * config revokes it). Those made through the Admin API live in the database
 * with their use counts. A config token shadows a stored one of the same name.
 *
 * Counting follows Synapse: the UIA stage takes a *pending* use, held by the
 * UIA session (storage: registration_token_reservations), and a token whose
 * pending + completed uses reach uses_allowed is refused, so two sessions can
 * never both take its last use; the finished registration turns the pending
 * use into a *completed* one. A session that expires without registering gives
 * its pending use back (at the next reservation). As in Synapse, the use is
 * completed after the account is created: a crash between the two gives the
 * use back once the session expires.
 */
import type { Config } from '../config/config.js';
import type { RegistrationTokenStore } from '../domain/registration-tokens.js';
import { errors } from '../protocol/errors.js';
import type { UiaSessionRecord } from '../storage/storage.js';
import { isUsable } from './registration-tokens.js';

export class RegistrationTokenService {
  constructor(
    private readonly config: Config['registration'],
    private readonly store: RegistrationTokenStore,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether registering needs a token: config tokens listed, the config asks for
   * it, or the database holds any token. Any, usable or not: a token used up
   * must not open registration to everyone.
   */
  async required(): Promise<boolean> {
    if (this.config.registration_tokens.length > 0) return true;
    if (this.config.registration_requires_token) return true;
    return this.store.any();
  }

  /** The validity endpoint's answer: a config token, or a stored one with uses left. */
  async isValid(token: string): Promise<boolean> {
    if (this.config.registration_tokens.includes(token)) return true;
    const stored = await this.store.get(token);
    return stored !== undefined && isUsable(stored, this.now());
  }

  /** The UIA stage: takes a pending use of a stored token for the session; 403 if none is left. */
  async reserve(token: string, session: UiaSessionRecord): Promise<void> {
    if (this.config.registration_tokens.includes(token)) return;
    const outcome = await this.store.reserve(
      token,
      session.sessionId,
      this.now(),
      session.expiresTs,
    );
    if (outcome !== 'reserved') throw errors.forbidden('Invalid registration token');
  }

  /** The registration of the session finished: its pending use, if any, is completed. */
  async completed(sessionId: string): Promise<void> {
    await this.store.complete(sessionId);
  }
}
