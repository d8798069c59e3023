/** POST /login: password and token logins, and minting login tokens. */
import type { Config } from '../config/config.js';
import type { UserReader } from '../storage/readers.js';
import type { LoginTokenStore } from '../storage/storage.js';
import { errors } from '../protocol/errors.js';
import { type JsonObject, optionalString, requiredString } from '../protocol/params.js';
import { checkPassword } from './password-check.js';
import { mintLoginToken, readLoginToken } from './login-tokens.js';
import type { IssuedSession, SessionService } from './sessions.js';
import { resolveLocalUserId } from './user-ids.js';

export interface LoginRequest {
  deviceId?: string;
  initialDeviceDisplayName?: string;
  ip: string | null;
}

/** Login tokens, and the users whose passwords are checked. */
export interface LoginServiceStorage {
  loginTokens: LoginTokenStore;
  users: UserReader;
}

export class LoginService {
  constructor(
    private readonly config: Config,
    private readonly storage: LoginServiceStorage,
    private readonly sessions: SessionService,
    private readonly loginTokenSecret: Buffer,
    /** Cross-signing key IDs of a user; a device may not take one as its ID. */
    private readonly crossSigningKeyIds: (userId: string) => Promise<string[]> = async () => [],
  ) {}

  flows(): JsonObject[] {
    return [
      { type: 'm.login.password' },
      { type: 'm.login.token', get_login_token: this.config.login.get_login_token_enabled },
    ];
  }

  /**
   * The user ID that an `identifier` (or the legacy top-level `user`) names,
   * undefined when it names no possible local user. Third-party identifiers
   * never match: Weft has no 3PIDs yet.
   */
  userIdFromIdentifier(body: JsonObject): string | undefined {
    const identifier = body.identifier;
    if (identifier === undefined || identifier === null) {
      const legacyUser = optionalString(body, 'user');
      if (legacyUser !== undefined) return resolveLocalUserId(legacyUser, this.config.server_name);
      if (body.medium !== undefined || body.address !== undefined) throw noSuchThirdParty();
      throw errors.missingParam('identifier');
    }
    if (typeof identifier !== 'object' || Array.isArray(identifier)) {
      throw errors.badJson('identifier must be an object');
    }
    const id = identifier as JsonObject;
    const type = requiredString(id, 'type', 'identifier.');
    switch (type) {
      case 'm.id.user':
        return resolveLocalUserId(
          requiredString(id, 'user', 'identifier.'),
          this.config.server_name,
        );
      case 'm.id.thirdparty':
        requiredString(id, 'medium', 'identifier.');
        requiredString(id, 'address', 'identifier.');
        throw noSuchThirdParty();
      case 'm.id.phone':
        requiredString(id, 'country', 'identifier.');
        requiredString(id, 'phone', 'identifier.');
        throw noSuchThirdParty();
      default:
        throw errors.unknown(`Unknown identifier type ${type}`);
    }
  }

  async loginWithPassword(
    body: JsonObject,
    request: LoginRequest,
  ): Promise<{ userId: string } & IssuedSession> {
    const userId = this.userIdFromIdentifier(body);
    const password = requiredString(body, 'password');
    const user = await checkPassword(this.storage, userId, password);
    return this.startSession(user.userId, request);
  }

  async loginWithToken(
    token: string,
    request: LoginRequest,
  ): Promise<{ userId: string } & IssuedSession> {
    const invalid = () => errors.forbidden('Invalid, expired or already used login token');
    const claims = readLoginToken(this.loginTokenSecret, token);
    if (!claims) throw invalid();
    const userId = await this.storage.loginTokens.consume(claims.nonce, Date.now());
    if (userId !== claims.userId) throw invalid();
    const user = await this.storage.users.getUser(userId);
    if (!user) throw invalid();
    if (user.deactivated) throw errors.userDeactivated();
    return this.startSession(userId, request);
  }

  async mintLoginToken(userId: string): Promise<{ login_token: string; expires_in_ms: number }> {
    const lifetime = this.config.login.login_token_lifetime_ms;
    const { token, claims } = mintLoginToken(this.loginTokenSecret, userId, Date.now() + lifetime);
    await this.storage.loginTokens.add(claims.nonce, userId, claims.expiresTs);
    return { login_token: token, expires_in_ms: lifetime };
  }

  private async startSession(
    userId: string,
    request: LoginRequest,
  ): Promise<{ userId: string } & IssuedSession> {
    if (request.deviceId !== undefined) {
      const keyIds = await this.crossSigningKeyIds(userId);
      if (keyIds.includes(request.deviceId)) {
        throw errors.forbidden('This device ID is a cross-signing key of the user');
      }
    }
    const issued = await this.sessions.issue(
      userId,
      request.deviceId,
      request.initialDeviceDisplayName ?? null,
      request.ip,
    );
    return { userId, ...issued };
  }
}

function noSuchThirdParty() {
  return errors.forbidden('No account is bound to that third-party identifier');
}
