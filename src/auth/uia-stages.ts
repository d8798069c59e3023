/** The UIA stages Weft supports, each a check of the client's `auth` dict. */
import type { RateLimiter } from './rate-limit.js';
import type { UserReader } from '../storage/readers.js';
import { MatrixError, errors } from '../protocol/errors.js';
import { requiredString } from '../protocol/params.js';
import type { StageVerifier } from './uia.js';
import type { LoginService } from './login-service.js';
import { checkPassword } from './password-check.js';
import type { RegistrationTokenService } from './registration-token-service.js';

export const STAGE_DUMMY = 'm.login.dummy';
export const STAGE_PASSWORD = 'm.login.password';
export const STAGE_REGISTRATION_TOKEN = 'm.login.registration_token';

export interface StageLimits {
  /** Failed password checks, per account (shared with /login). */
  passwordFailuresPerAccount: RateLimiter;
  /** Registration token guesses, per IP (shared with the validity endpoint). */
  registrationTokensPerIp: RateLimiter;
}

/**
 * The stage checks, under the same rate limits as the other ways to test a
 * password or a registration token, so UIA (in-band or through the fallback
 * page) is no faster oracle than /login.
 */
export function uiaStageVerifiers(
  storage: { users: UserReader },
  login: LoginService,
  limits: StageLimits,
  registrationTokens: RegistrationTokenService,
): Record<string, StageVerifier> {
  return {
    [STAGE_DUMMY]: async () => {},
    [STAGE_PASSWORD]: async (auth, session) => {
      const account = session.userId ?? '(none)';
      limits.passwordFailuresPerAccount.check(account);
      try {
        const userId = login.userIdFromIdentifier(auth);
        const password = requiredString(auth, 'password', 'auth.');
        // The password must be the session user's own: re-authentication, not login as anyone.
        const user = await checkPassword(storage, userId, password);
        if (user.userId !== session.userId) throw errors.forbidden('Invalid username or password');
      } catch (err) {
        if (err instanceof MatrixError && err.errcode === 'M_FORBIDDEN') {
          limits.passwordFailuresPerAccount.tryTake(account);
        }
        throw err;
      }
    },
    [STAGE_REGISTRATION_TOKEN]: async (auth, session, ip) => {
      limits.registrationTokensPerIp.take(ip);
      const token = requiredString(auth, 'token', 'auth.');
      // Takes a pending use of a stored token for this session (403 if none is left).
      await registrationTokens.reserve(token, session);
    },
  };
}
