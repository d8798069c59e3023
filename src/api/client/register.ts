/** Registration: users, guests, guest upgrades, username availability, registration tokens. */
import {
  STAGE_DUMMY,
  STAGE_REGISTRATION_TOKEN,
  isValidRegistrationToken,
} from '../../auth/uia-stages.js';
import { errors } from '../../http/errors.js';
import {
  checkLength,
  objectBody,
  optionalBoolean,
  optionalString,
  queryString,
} from '../../http/params.js';
import type { Router } from '../../http/router.js';
import { MAX_DEVICE_ID_LENGTH, MAX_DISPLAY_NAME_LENGTH } from './login.js';
import type { ClientApiServices } from './services.js';

export function registerRegistrationRoutes(router: Router, services: ClientApiServices): void {
  const { config, accounts, sessions, uia, limits } = services;
  const registrationFlows = () =>
    config.registration.registration_tokens.length > 0
      ? [[STAGE_REGISTRATION_TOKEN]]
      : [[STAGE_DUMMY]];

  router.client('POST', '/register', { auth: 'none' }, async (request) => {
    limits.registrationPerIp.take(request.ip);
    if (!config.registration.enabled) throw errors.forbidden('Registration is disabled');
    const kind = queryString(request.query, 'kind') ?? 'user';
    if (kind !== 'user' && kind !== 'guest')
      throw errors.invalidParam('kind must be user or guest');
    const body = objectBody(request.body, { allowEmpty: true });
    const initialDeviceDisplayName = optionalString(body, 'initial_device_display_name');
    checkLength(initialDeviceDisplayName, MAX_DISPLAY_NAME_LENGTH, 'initial_device_display_name');

    if (kind === 'guest') {
      if (!config.registration.allow_guests) throw errors.forbidden('Guest access is disabled');
      // Every other field is ignored for guests (guest access module).
      const guest = await accounts.registerGuest(initialDeviceDisplayName ?? null, request.ip);
      return registrationResponse(config.server_name, guest.userId, guest.session);
    }

    const username = optionalString(body, 'username');
    const password = optionalString(body, 'password');
    const deviceId = optionalString(body, 'device_id');
    const inhibitLogin = optionalBoolean(body, 'inhibit_login') ?? false;
    const guestAccessToken = optionalString(body, 'guest_access_token');
    checkLength(deviceId, MAX_DEVICE_ID_LENGTH, 'device_id');
    if (password === undefined) throw errors.missingParam('password');

    // Name problems are reported before UIA starts, as the spec asks.
    const guest =
      guestAccessToken === undefined ? undefined : await sessions.authenticate(guestAccessToken);
    if (guestAccessToken !== undefined && !guest?.isGuest) {
      throw errors.forbidden('guest_access_token is not a valid guest token');
    }
    if (guest) accounts.checkGuestUpgrade(guest.userId, username);
    const userId = guest
      ? guest.userId
      : username === undefined
        ? undefined
        : await accounts.claimableUserId(username);

    await uia.require(body.auth, {
      operation: 'POST /register',
      userId: null,
      flows: registrationFlows(),
      ip: request.ip,
    });

    if (guest) {
      await accounts.upgradeGuest(guest.userId, password);
      const session = inhibitLogin
        ? undefined
        : await sessions.issue(
            guest.userId,
            deviceId,
            initialDeviceDisplayName ?? null,
            request.ip,
          );
      return registrationResponse(config.server_name, guest.userId, session);
    }
    const registered = await accounts.register({
      userId,
      password,
      deviceId,
      initialDeviceDisplayName,
      inhibitLogin,
      ip: request.ip,
    });
    return registrationResponse(config.server_name, registered.userId, registered.session);
  });

  router.client('GET', '/register/available', { auth: 'none' }, async (request) => {
    const username = queryString(request.query, 'username');
    if (username === undefined) throw errors.missingParam('username');
    await accounts.claimableUserId(username);
    return { available: true };
  });

  router.v1(
    'GET',
    '/register/m.login.registration_token/validity',
    { auth: 'none' },
    async (request) => {
      if (!config.registration.enabled) throw errors.forbidden('Registration is disabled');
      limits.registrationTokenValidityPerIp.take(request.ip);
      const token = queryString(request.query, 'token');
      if (token === undefined) throw errors.missingParam('token');
      return { valid: isValidRegistrationToken(config, token) };
    },
  );
}

function registrationResponse(
  serverName: string,
  userId: string,
  session: { accessToken: string; deviceId: string } | undefined,
): Record<string, unknown> {
  const response: Record<string, unknown> = { user_id: userId, home_server: serverName };
  if (session) {
    response.access_token = session.accessToken;
    response.device_id = session.deviceId;
  }
  return response;
}
