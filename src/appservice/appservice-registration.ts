/**
 * Registration and login by application services (`m.login.application_service`):
 * the request carries the service's as_token instead of UIA or a password, and
 * the user must lie in the service's user namespaces. As Synapse
 * (synapse/rest/client/register.py and login.py), messages included.
 */
import type { AccountService } from '../account/account-service.js';
import type { IssuedSession, SessionService } from '../auth/sessions.js';
import type { AppServiceRegistration } from '../domain/appservice.js';
import { errors, MatrixError } from '../protocol/errors.js';
import type { UserStore } from '../storage/storage.js';
import { exclusiveError, type AppServiceAuth } from './appservice-auth.js';

export const APPSERVICE_LOGIN_TYPE = 'm.login.application_service';

/**
 * Localparts a service may register: Synapse gives services "carte blanche"
 * (IRC bridges register odd names, upper case and leading `_` included); only
 * what cannot be part of a user ID is refused: `:`, controls, spaces, non-ASCII.
 */
const SERVICE_LOCALPART = /^[\x21-\x39\x3b-\x7e]+$/;
/** The spec's limit on a whole user ID. */
const MAX_USER_ID_LENGTH = 255;

export interface ServiceRegistration {
  username: string;
  inhibitLogin: boolean;
  deviceId: string | undefined;
  initialDeviceDisplayName: string | undefined;
  ip: string;
}

export interface ServiceLogin {
  identifier: unknown;
  deviceId: string | undefined;
  initialDeviceDisplayName: string | undefined;
  ip: string;
}

const loginUnsupported = (message: string) =>
  new MatrixError(400, 'M_APPSERVICE_LOGIN_UNSUPPORTED', message);

export class AppServiceAccounts {
  constructor(
    private readonly serverName: string,
    private readonly auth: AppServiceAuth,
    private readonly accounts: AccountService,
    private readonly sessions: SessionService,
    private readonly users: Pick<UserStore, 'getUser'>,
  ) {}

  /** The service of the request's token; 401 when there is no token or it is no service's. */
  serviceOf(token: string | undefined): AppServiceRegistration {
    if (token === undefined) {
      throw errors.missingParam(
        'access_token (an application service token is needed for m.login.application_service)',
      );
    }
    const registration = this.auth.registrationFor(token);
    if (!registration) {
      throw errors.unknownToken('This login method is only valid for application services');
    }
    return registration;
  }

  /** POST /register with type m.login.application_service: no UIA, no password. */
  async register(
    registration: AppServiceRegistration,
    request: ServiceRegistration,
  ): Promise<{ userId: string; session?: IssuedSession }> {
    const userId = this.serviceUserId(request.username);
    if (!this.auth.claims(registration, userId)) {
      throw exclusiveError('Invalid user localpart for this application service.');
    }
    this.auth.checkUserIdNotExclusive(userId, registration);
    // MSC4190: such a service makes its users' devices itself (PUT /devices/{deviceId}).
    if (registration.msc4190 && !request.inhibitLogin) {
      throw loginUnsupported(
        'This appservice has MSC4190 enabled, so the inhibit_login parameter must be set to true.',
      );
    }
    return this.accounts.register({
      userId,
      deviceId: request.deviceId,
      initialDeviceDisplayName: request.initialDeviceDisplayName,
      inhibitLogin: request.inhibitLogin,
      ip: request.ip,
    });
  }

  /** POST /login with type m.login.application_service: an m.id.user identifier in its namespaces. */
  async login(
    registration: AppServiceRegistration,
    request: ServiceLogin,
  ): Promise<{ userId: string } & IssuedSession> {
    if (registration.msc4190) {
      throw loginUnsupported(
        'This appservice has MSC4190 enabled, so appservice login cannot be used.',
      );
    }
    const userId = this.identifiedUser(request.identifier);
    const sender = this.auth.senderOf(registration);
    if (userId !== sender && !this.auth.claims(registration, userId)) {
      throw errors.forbidden('Invalid access_token');
    }
    const user = await this.users.getUser(userId);
    if (!user)
      throw errors.forbidden(`Application service has not registered this user (${userId})`);
    if (user.deactivated) throw errors.userDeactivated();
    if (user.locked) throw errors.forbidden('This account has been locked');
    const session = await this.sessions.issue(
      userId,
      request.deviceId,
      request.initialDeviceDisplayName ?? null,
      request.ip,
    );
    return { userId, ...session };
  }

  /** The user ID of a service's `username`, kept as given (no case folding, as Synapse). */
  private serviceUserId(username: string): string {
    const userId = `@${username}:${this.serverName}`;
    if (!SERVICE_LOCALPART.test(username) || userId.length > MAX_USER_ID_LENGTH) {
      throw errors.invalidUsername('Invalid username');
    }
    return userId;
  }

  /** Only `m.id.user` identifiers name a service's user (Synapse's _do_appservice_login). */
  private identifiedUser(identifier: unknown): string {
    if (typeof identifier !== 'object' || identifier === null || Array.isArray(identifier)) {
      throw errors.invalidParam('Invalid identifier in login submission');
    }
    const { type, user } = identifier as Record<string, unknown>;
    if (type !== 'm.id.user') throw errors.invalidParam('Unknown login identifier type');
    if (typeof user !== 'string' || user === '') {
      throw errors.invalidParam('Invalid user in identifier');
    }
    return user.startsWith('@') ? user : `@${user}:${this.serverName}`;
  }
}
