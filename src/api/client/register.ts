/** Registration: users, guests, guest upgrades, username availability, registration tokens. */
import { STAGE_DUMMY, STAGE_REGISTRATION_TOKEN } from '../../auth/uia-stages.js';
import { checkPasswordPolicy } from '../../auth/passwords.js';
import { errors } from '../../protocol/errors.js';
import {
  checkLength,
  objectBody,
  optionalBoolean,
  optionalString,
  queryString,
} from '../../protocol/params.js';
import type { Router } from '../../http/router.js';
import { MAX_DEVICE_ID_LENGTH, MAX_DISPLAY_NAME_LENGTH } from './login.js';
import type { ClientApiServices } from './services.js';
import { isAppServiceRequest, registerForAppService } from './appservice-register.js';

export function registerRegistrationRoutes(router: Router, services: ClientApiServices): void {
  const { config, accounts, sessions, uia, limits, registrationTokens, appServices } = services;
  const registrationFlows = async () =>
    (await registrationTokens.required()) ? [[STAGE_REGISTRATION_TOKEN]] : [[STAGE_DUMMY]];

  router.client('POST', '/register', { auth: 'none' }, async (request) => {
    // Services register their users with their as_token: no UIA, no per-IP limit (as Synapse).
    if (isAppServiceRequest(request.body)) return registerForAppService(services, request);
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

    return registerUser(request.ip, body, initialDeviceDisplayName);
  });

  /** A full account: a new one, or a guest's upgraded. */
  async function registerUser(
    ip: string,
    body: Record<string, unknown>,
    initialDeviceDisplayName: string | undefined,
  ): Promise<Record<string, unknown>> {
    const username = optionalString(body, 'username');
    const deviceId = optionalString(body, 'device_id');
    const inhibitLogin = optionalBoolean(body, 'inhibit_login') ?? false;
    checkLength(deviceId, MAX_DEVICE_ID_LENGTH, 'device_id');
    // Optional until UIA is done: clients (Element Web) first probe the flows
    // with a body that has none.
    const givenPassword = optionalString(body, 'password');

    // Name and password problems are reported before UIA starts: the spec asks
    // it for names, Synapse does it for the password policy too.
    if (givenPassword !== undefined) checkPasswordPolicy(givenPassword);
    const guest = await guestToUpgrade(optionalString(body, 'guest_access_token'));
    if (guest) accounts.checkGuestUpgrade(guest, username);
    // A name in a service's exclusive namespace is the service's to register (M_EXCLUSIVE).
    if (!guest && username !== undefined) appServices.checkUsernameNotExclusive(username);
    const userId =
      guest ?? (username === undefined ? undefined : await accounts.claimableUserId(username));

    const uiaRequest = {
      operation: 'POST /register',
      userId: null,
      flows: await registrationFlows(),
      ip,
      remember: { password: givenPassword },
    };
    return uia.authorise(body.auth, uiaRequest, async ({ sessionId, remembered }) => {
      // As Synapse: the password may come with any request of the UIA session.
      const password = remembered.password;
      if (password === undefined) throw errors.missingParam('password');
      const login: RegistrationLogin = { deviceId, initialDeviceDisplayName, inhibitLogin, ip };
      if (guest) {
        const upgraded = await upgradeGuest(guest, password, login);
        await registrationTokens.completed(sessionId);
        return upgraded;
      }
      const registered = await accounts.register({ userId, password, ...login });
      // The session's pending token use, if any, is now a completed one.
      await registrationTokens.completed(sessionId);
      return registrationResponse(config.server_name, registered.userId, registered.session);
    });
  }

  /** The guest user ID that `guest_access_token` names; 403 unless it is a guest's. */
  async function guestToUpgrade(guestAccessToken: string | undefined) {
    if (guestAccessToken === undefined) return undefined;
    const owner = await sessions.authenticate(guestAccessToken);
    if (!owner?.isGuest) throw errors.forbidden('guest_access_token is not a valid guest token');
    return owner.userId;
  }

  async function upgradeGuest(
    guestUserId: string,
    password: string,
    login: RegistrationLogin,
  ): Promise<Record<string, unknown>> {
    await accounts.upgradeGuest(guestUserId, password);
    const session = login.inhibitLogin
      ? undefined
      : await sessions.issue(
          guestUserId,
          login.deviceId,
          login.initialDeviceDisplayName ?? null,
          login.ip,
        );
    return registrationResponse(config.server_name, guestUserId, session);
  }

  router.client('GET', '/register/available', { auth: 'none' }, async (request) => {
    limits.usernameAvailablePerIp.take(request.ip);
    const username = queryString(request.query, 'username');
    if (username === undefined) throw errors.missingParam('username');
    appServices.checkUsernameNotExclusive(username);
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
      return { valid: await registrationTokens.isValid(token) };
    },
  );
}

/** The login that comes with a registration, unless inhibited. */
interface RegistrationLogin {
  deviceId: string | undefined;
  initialDeviceDisplayName: string | undefined;
  inhibitLogin: boolean;
  ip: string;
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
