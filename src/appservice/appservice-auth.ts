/**
 * Application services as clients: a request carrying a registration's
 * `as_token` is the service's. It acts as its sender user, or, with
 * `?user_id=`, as a registered user of its namespaces, and with `?device_id=`
 * (or MSC3202's unstable `org.matrix.msc3202.device_id`) as one of that user's
 * devices. Mirrors Synapse's get_appservice_user (synapse/api/auth/base.py),
 * messages included. Tokens are found in a Map built at start: no query and
 * no scan of the registrations per request.
 */
import type { AppServiceRegistration } from '../domain/appservice.js';
import type { TokenOwner } from '../domain/records.js';
import { errors, MatrixError } from '../protocol/errors.js';
import type { DeviceStore, UserStore } from '../storage/storage.js';
import { exclusiveOwner, inNamespace, mayActAs, senderUserId } from './registration-rules.js';

/** The users the services act as, and their devices. */
export interface AppServiceAuthStorage {
  users: Pick<UserStore, 'getUser' | 'createUser'>;
  devices: Pick<DeviceStore, 'getDevice'>;
}

/** The spec's `M_EXCLUSIVE`: a name an application service claims (400). */
export function exclusiveError(message: string): MatrixError {
  return new MatrixError(400, 'M_EXCLUSIVE', message);
}

/**
 * Who a service's request acts for when it names no device: Synapse's
 * requester has no device then. Weft's owners always carry a device ID, so
 * this one, which no real device can have (device IDs are never empty).
 */
export const NO_DEVICE = '';

export class AppServiceAuth {
  private readonly byToken = new Map<string, AppServiceRegistration>();

  constructor(
    readonly registrations: readonly AppServiceRegistration[],
    private readonly serverName: string,
    private readonly storage: AppServiceAuthStorage,
  ) {
    for (const registration of registrations) this.byToken.set(registration.asToken, registration);
  }

  /** The registration whose as_token this is, if any. */
  registrationFor(token: string): AppServiceRegistration | undefined {
    return this.byToken.get(token);
  }

  /**
   * Creates each service's sender account if missing (no password: nobody
   * logs in as it with one), at start, so requests can act as it at once.
   */
  async ensureSenders(now = Date.now()): Promise<void> {
    for (const registration of this.registrations) {
      const userId = senderUserId(registration, this.serverName);
      if (await this.storage.users.getUser(userId)) continue;
      await this.storage.users.createUser({
        userId,
        passwordHash: null,
        isGuest: false,
        isAdmin: false,
        now,
        displayName: registration.senderLocalpart,
      });
    }
  }

  /**
   * The owner of a service's request, or undefined when the token is no
   * service's (then it is an ordinary access token). Throws 403 for a user the
   * service may not act as, 400 M_UNKNOWN_DEVICE for a device the user lacks.
   */
  async authenticate(token: string, query: unknown): Promise<TokenOwner | undefined> {
    const registration = this.byToken.get(token);
    if (!registration) return undefined;
    const params = (query ?? {}) as Record<string, unknown>;
    const sender = senderUserId(registration, this.serverName);
    const userId = firstString(params, 'user_id') ?? sender;
    const flags = userId === sender ? {} : await this.masqueradeFlags(registration, userId);
    const deviceId =
      firstString(params, 'device_id') ?? firstString(params, 'org.matrix.msc3202.device_id');
    if (deviceId !== undefined && !(await this.storage.devices.getDevice(userId, deviceId))) {
      throw new MatrixError(
        400,
        'M_UNKNOWN_DEVICE',
        `Application service trying to use a device that doesn't exist ('${deviceId}' for ${userId})`,
      );
    }
    return {
      userId,
      deviceId: deviceId ?? NO_DEVICE,
      isGuest: false,
      ...flags,
      appService: registration,
      // The sender is never limited; the users it acts as unless `rate_limited: false`.
      rateLimitExempt: userId === sender || !registration.rateLimited,
    };
  }

  /**
   * Checks that the service may act as the user and that the user exists;
   * answers the account's moderation flags, so a locked, suspended or
   * shadow-banned user stays so when a service acts as them.
   */
  private async masqueradeFlags(
    registration: AppServiceRegistration,
    userId: string,
  ): Promise<Pick<TokenOwner, 'locked' | 'suspended' | 'shadowBanned'>> {
    if (!mayActAs(registration, userId, this.serverName)) {
      throw errors.forbidden(`Application service cannot masquerade as this user (${userId}).`);
    }
    const user = await this.storage.users.getUser(userId);
    if (!user) {
      throw errors.forbidden(`Application service has not registered this user (${userId})`);
    }
    // A deactivated account has no tokens; a service acting as it gets no further.
    if (user.deactivated) throw errors.forbidden(`User ${userId} is deactivated`);
    return { locked: user.locked, suspended: user.suspended, shadowBanned: user.shadowBanned };
  }

  /**
   * 400 M_EXCLUSIVE when the user ID lies in an exclusive user namespace of a
   * service other than `asService` (Synapse's check_user_id_not_appservice_exclusive).
   */
  checkUserIdNotExclusive(userId: string, asService?: AppServiceRegistration): void {
    if (exclusiveOwner(this.registrations, 'users', userId, asService)) {
      throw exclusiveError('This user ID is reserved by an application service.');
    }
  }

  /**
   * 400 M_EXCLUSIVE for an alias the requester may not create: a service only
   * in its own alias namespaces, anyone else outside every exclusive one
   * (Synapse's DirectoryHandler.create_association, messages included).
   */
  checkAlias(alias: string, owner: Pick<TokenOwner, 'appService'>): void {
    const service = owner.appService;
    if (service) {
      if (!inNamespace(service, 'aliases', alias)) {
        throw exclusiveError('This application service has not reserved this kind of alias.');
      }
    } else if (exclusiveOwner(this.registrations, 'aliases', alias)) {
      throw exclusiveError('This alias is reserved by an application service.');
    }
  }

  /** As checkUserIdNotExclusive, for a username as a client gives it (folded to lower case). */
  checkUsernameNotExclusive(username: string): void {
    this.checkUserIdNotExclusive(`@${username.toLowerCase()}:${this.serverName}`);
  }

  /** Whether the service may register or log in as this user (its user namespaces). */
  claims(registration: AppServiceRegistration, userId: string): boolean {
    return inNamespace(registration, 'users', userId);
  }

  /** The service's own user. */
  senderOf(registration: AppServiceRegistration): string {
    return senderUserId(registration, this.serverName);
  }
}

/** A query parameter's first value (Fastify gives repeated ones as a list). */
function firstString(params: Record<string, unknown>, name: string): string | undefined {
  const value = params[name];
  const first = Array.isArray(value) ? (value[0] as unknown) : value;
  if (first === undefined) return undefined;
  if (typeof first !== 'string' || first === '') throw errors.invalidParam(`${name} is invalid`);
  return first;
}
