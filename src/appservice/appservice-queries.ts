/**
 * Asking application services whether a user or a room alias exists: a client
 * looked up a user or an alias Weft does not know, in a service's namespace;
 * the service may create it on the spot (a bridge's puppet, a portal room) and
 * answer 200, after which Weft looks again. As Synapse's query_user_exists and
 * query_room_alias_exists (synapse/handlers/appservice.py): services asked one
 * after another, the first 2xx wins, failures count as "no".
 */
import type { Logger } from 'pino';
import type { AppServiceRegistration } from '../domain/appservice.js';
import type { UserStore } from '../storage/storage.js';
import { APP_PREFIX, type AppServiceHttp } from './appservice-http.js';
import { inNamespace, senderUserId } from './registration-rules.js';
import { interestedInUser } from './interest-rules.js';

/** Queries are on a client's request path: a service that does not answer soon is a "no". */
const QUERY_TIMEOUT_MS = 10_000;

export class AppServiceQueries {
  constructor(
    private readonly registrations: readonly AppServiceRegistration[],
    private readonly http: AppServiceHttp,
    private readonly serverName: string,
    private readonly logger: Logger,
  ) {}

  /** Whether a service whose user namespace holds the user says it exists (it created it). */
  userExists(userId: string): Promise<boolean> {
    const asked = this.registrations.filter((registration) =>
      interestedInUser(registration, userId, this.serverName),
    );
    return this.firstYes(asked, `${APP_PREFIX}/users/${encodeURIComponent(userId)}`);
  }

  /**
   * Before an event is pushed: its sender, or the target of a member event (an invite
   * to a bridge's puppet, say), if a local user Weft does not know, is asked of the
   * services whose namespace holds it, so the service can make the user first (as
   * Synapse's _check_user_exists). Failures count as "no": the event goes anyway.
   */
  async ensureKnown(userId: string, users: Pick<UserStore, 'getUser'>): Promise<void> {
    if (!userId.endsWith(`:${this.serverName}`)) return;
    const isSender = this.registrations.some(
      (registration) => senderUserId(registration, this.serverName) === userId,
    );
    if (isSender || (await users.getUser(userId))) return;
    await this.userExists(userId);
  }

  /** Whether a service whose alias namespace holds the alias says it exists (it created it). */
  aliasExists(alias: string): Promise<boolean> {
    const asked = this.registrations.filter((registration) =>
      inNamespace(registration, 'aliases', alias),
    );
    return this.firstYes(asked, `${APP_PREFIX}/rooms/${encodeURIComponent(alias)}`);
  }

  /** Whether a service could be asked about this alias at all (no request made). */
  mayKnowAlias(alias: string): boolean {
    return this.registrations.some(
      (registration) => registration.url !== null && inNamespace(registration, 'aliases', alias),
    );
  }

  private async firstYes(asked: AppServiceRegistration[], path: string): Promise<boolean> {
    for (const registration of asked) {
      if (registration.url === null) continue;
      try {
        const response = await this.http.request(registration, {
          method: 'GET',
          path,
          timeoutMs: QUERY_TIMEOUT_MS,
        });
        if (response.status >= 200 && response.status < 300) return true;
      } catch (err) {
        this.logger.warn({ err, appservice: registration.id }, 'appservice: query failed');
      }
    }
    return false;
  }
}
