/** The caller's own account: whoami, password, deactivation, 3PIDs. */
import type { FastifyRequest } from 'fastify';
import { checkPasswordPolicy } from '../../auth/passwords.js';
import { errors } from '../../http/errors.js';
import { objectBody, optionalBoolean, requiredString } from '../../http/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { ClientApiServices } from './services.js';

export function registerAccountRoutes(router: Router, services: ClientApiServices): void {
  const { accounts } = services;

  router.client('GET', '/account/whoami', { auth: 'required', guest: true }, async (request) => {
    const owner = ownerOf(request);
    return { user_id: owner.userId, device_id: owner.deviceId, is_guest: owner.isGuest };
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
    await reauthorised(request, body.auth, 'POST /account/password', () =>
      accounts.changePassword(owner.userId, newPassword, owner.deviceId, logoutDevices),
    );
    return {};
  });

  router.client('POST', '/account/deactivate', { auth: 'required' }, async (request) => {
    const owner = ownerOf(request);
    const body = objectBody(request.body, { allowEmpty: true });
    if (body.erase !== undefined && typeof body.erase !== 'boolean')
      throw errors.badJson('erase must be a boolean');
    await reauthorised(request, body.auth, 'POST /account/deactivate', () =>
      accounts.deactivate(owner.userId),
    );
    // Weft binds no 3PIDs to identity servers, so there is nothing to unbind, and
    // the spec says the answer "must be `success`" then (the "no-support"
    // contradicts account_deactivation.yaml; the spec wins).
    return { id_server_unbind_result: 'success' };
  });

  router.client('GET', '/account/3pid', { auth: 'required' }, async () => ({ threepids: [] }));

  /**
   * Runs `operation` once the caller has re-authenticated as the token's user.
   * Unlike `reauthenticate`, the UIA session is used up only if it succeeds.
   */
  async function reauthorised(
    request: FastifyRequest,
    auth: unknown,
    operation: string,
    run: () => Promise<void>,
  ): Promise<void> {
    const { userId } = ownerOf(request);
    const flows = await services.reauthFlows(userId);
    await services.uia.authorise(auth, { operation, userId, flows, ip: request.ip }, run);
  }
}
