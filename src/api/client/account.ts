/** The caller's own account: whoami, password, deactivation, 3PIDs. */
import { checkPasswordPolicy } from '../../auth/passwords.js';
import { errors, MatrixError } from '../../protocol/errors.js';
import { objectBody, optionalBoolean, requiredString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import { withReauthentication } from './reauth.js';
import type { ClientApiServices } from './services.js';

export function registerAccountRoutes(router: Router, services: ClientApiServices): void {
  const { accounts } = services;

  router.client('GET', '/account/whoami', { auth: 'required', guest: true }, async (request) => {
    const owner = ownerOf(request);
    // An application service acting without ?device_id= has no device (Synapse leaves it out).
    const device = owner.deviceId === '' ? {} : { device_id: owner.deviceId };
    return { user_id: owner.userId, ...device, is_guest: owner.isGuest };
  });

  // The spec makes the token optional so that a server may offer a reset by
  // email; Weft has no 3PIDs, so (like Synapse without email) it needs one.
  router.client('POST', '/account/password', { auth: 'required' }, async (request) => {
    const owner = ownerOf(request);
    const body = objectBody(request.body);
    const newPassword = requiredString(body, 'new_password');
    const logoutDevices = optionalBoolean(body, 'logout_devices') ?? true;
    // Before UIA, as Synapse does: no password prompt for a change that would be refused.
    checkPasswordPolicy(newPassword);
    await withReauthentication(services, request, body.auth, 'POST /account/password', () =>
      accounts.changePassword(owner.userId, newPassword, owner.deviceId, logoutDevices),
    );
    return {};
  });

  router.client('POST', '/account/deactivate', { auth: 'required' }, async (request) => {
    const owner = ownerOf(request);
    const body = objectBody(request.body, { allowEmpty: true });
    if (body.erase !== undefined && typeof body.erase !== 'boolean')
      throw errors.badJson('erase must be a boolean');
    await withReauthentication(services, request, body.auth, 'POST /account/deactivate', () =>
      accounts.deactivate(owner.userId),
    );
    // Weft binds no 3PIDs to identity servers, so there is nothing to unbind, and
    // the spec says the answer "must be `success`" then (the "no-support"
    // contradicts account_deactivation.yaml; the spec wins).
    return { id_server_unbind_result: 'success' };
  });

  router.client('GET', '/account/3pid', { auth: 'required' }, async () => ({ threepids: [] }));

  // No email or phone numbers here: the spec's answer for a medium a server does not support.
  for (const [medium, noun] of [
    ['email', 'email addresses'],
    ['msisdn', 'phone numbers'],
  ] as const) {
    const refuse = async () => {
      throw new MatrixError(400, 'M_THREEPID_MEDIUM_NOT_SUPPORTED', `No ${noun} on this server`);
    };
    router.client('POST', `/account/3pid/${medium}/requestToken`, { auth: 'none' }, refuse);
    router.client('POST', `/account/password/${medium}/requestToken`, { auth: 'none' }, refuse);
    router.client('POST', `/register/${medium}/requestToken`, { auth: 'none' }, refuse);
  }
}
