/**
 * `/_synapse/admin/v1/register`: accounts registered by whoever knows the
 * config's `registration_shared_secret` (no access token: the MAC is the
 * authentication), through the account service like any other registration.
 */
import type { AccountService } from '../account/account-service.js';
import { errors } from '../protocol/errors.js';
import { macMatches, NonceStore } from './shared-secret.js';

export interface SharedSecretRegistrationRequest {
  nonce: string;
  username: string;
  password: string;
  displayName?: string;
  admin: boolean;
  mac: string;
  ip: string | null;
}

export interface SharedSecretRegistered {
  access_token: string;
  user_id: string;
  home_server: string;
  device_id: string;
}

export class SharedSecretRegistration {
  private readonly nonces: NonceStore;

  constructor(
    private readonly serverName: string,
    /** null: the endpoint is off (400, as Synapse). */
    private readonly secret: string | null,
    private readonly accounts: Pick<AccountService, 'claimableUserId' | 'register'>,
    nonces = new NonceStore(),
  ) {
    this.nonces = nonces;
  }

  nonce(): { nonce: string } {
    this.enabledSecret();
    return { nonce: this.nonces.issue() };
  }

  async register(request: SharedSecretRegistrationRequest): Promise<SharedSecretRegistered> {
    const secret = this.enabledSecret();
    // Used up whatever follows, as Synapse: a request with a wrong MAC cannot be retried.
    if (!this.nonces.consume(request.nonce)) throw errors.unknown('unrecognised nonce');
    if (!macMatches(secret, request, request.mac)) throw errors.forbidden('HMAC incorrect');
    const userId = await this.accounts.claimableUserId(request.username);
    const registered = await this.accounts.register({
      userId,
      password: request.password,
      isAdmin: request.admin,
      ...(request.displayName === undefined ? {} : { displayName: request.displayName }),
      ip: request.ip,
    });
    const session = registered.session;
    if (!session) throw new Error('registration without a session');
    return {
      access_token: session.accessToken,
      user_id: registered.userId,
      home_server: this.serverName,
      device_id: session.deviceId,
    };
  }

  private enabledSecret(): string {
    if (this.secret === null) throw errors.unknown('Shared secret registration is not enabled');
    return this.secret;
  }
}
