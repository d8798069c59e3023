/** Login, logout and the refresh endpoints that Weft deliberately does not serve. */
import { MatrixError, errors } from '../../protocol/errors.js';
import { checkLength, objectBody, optionalString, requiredString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import { withReauthentication } from './reauth.js';
import type { ClientApiServices } from './services.js';
import {
  appServiceLoginFlows,
  isAppServiceRequest,
  loginForAppService,
} from './appservice-register.js';

export const MAX_DEVICE_ID_LENGTH = 255;
export const MAX_DISPLAY_NAME_LENGTH = 512;

export function registerLoginRoutes(router: Router, services: ClientApiServices): void {
  const { config, login, devices, limits } = services;

  router.client('GET', '/login', { auth: 'none' }, async () => ({
    flows: [...login.flows(), ...appServiceLoginFlows(services)],
  }));

  router.client('POST', '/login', { auth: 'none' }, async (request) => {
    // A service logs in its users with its as_token (limited per IP only when rate_limited).
    if (isAppServiceRequest(request.body)) return loginForAppService(services, request);
    limits.loginPerIp.take(request.ip);
    const body = objectBody(request.body);
    const type = requiredString(body, 'type');
    const deviceId = optionalString(body, 'device_id');
    const initialDeviceDisplayName = optionalString(body, 'initial_device_display_name');
    checkLength(deviceId, MAX_DEVICE_ID_LENGTH, 'device_id');
    checkLength(initialDeviceDisplayName, MAX_DISPLAY_NAME_LENGTH, 'initial_device_display_name');
    const loginRequest = { deviceId, initialDeviceDisplayName, ip: request.ip };
    // `refresh_token: true` is accepted and ignored: Weft's tokens do not expire.

    let result;
    if (type === 'm.login.password') {
      const account = login.userIdFromIdentifier(body) ?? '(unknown)';
      limits.loginFailuresPerAccount.check(account);
      try {
        result = await login.loginWithPassword(body, loginRequest);
      } catch (err) {
        if (err instanceof MatrixError && err.errcode === 'M_FORBIDDEN') {
          limits.loginFailuresPerAccount.tryTake(account);
        }
        throw err;
      }
    } else if (type === 'm.login.token') {
      result = await login.loginWithToken(requiredString(body, 'token'), loginRequest);
    } else {
      throw errors.unknown(`Unknown login type ${type}`);
    }
    return {
      user_id: result.userId,
      access_token: result.accessToken,
      device_id: result.deviceId,
      // Deprecated, but r0 clients read it.
      home_server: config.server_name,
    };
  });

  router.v1('POST', '/login/get_token', { auth: 'required' }, async (request) => {
    if (!config.login.get_login_token_enabled) throw errors.unrecognized();
    const body = objectBody(request.body, { allowEmpty: true });
    // No grace period: the spec asks for re-authentication on every call.
    const operation = 'POST /login/get_token';
    return withReauthentication(services, request, body.auth, operation, async (owner) => {
      // Limited after UIA, as in Synapse, so that the two requests of UIA count as
      // one; a limited client retries with its UIA session, which stays usable.
      limits.getLoginTokenPerUser.take(owner.userId);
      return login.mintLoginToken(owner.userId);
    });
  });

  router.client('POST', '/logout', { auth: 'required' }, async (request) => {
    const owner = ownerOf(request);
    await devices.delete(owner.userId, [owner.deviceId]);
    return {};
  });

  // Deliberately not behind UIA: it must also kill a stolen token.
  router.client('POST', '/logout/all', { auth: 'required' }, async (request) => {
    await devices.deleteAll(ownerOf(request).userId);
    return {};
  });

  // Weft issues no refresh tokens, so no refresh token can be valid.
  // (The r0-era /tokenrefresh was removed from the spec and is simply unknown: 404.)
  router.client('POST', '/refresh', { auth: 'none' }, async () => {
    throw errors.unknownToken('Weft does not issue refresh tokens');
  });
}
