/**
 * `GET/POST /_synapse/admin/v1/register`: shared-secret registration. No
 * access token (the request's MAC over a fresh nonce authenticates it), so not
 * behind `router.admin`.
 */
import type { SharedSecretRegistration } from '../../admin/shared-secret-registration.js';
import type { Router } from '../../http/router.js';
import {
  objectBody,
  optionalBoolean,
  optionalString,
  requiredString,
} from '../../protocol/params.js';

const PATH = '/_synapse/admin/v1/register';

export function registerSharedSecretRoutes(
  router: Router,
  registration: SharedSecretRegistration,
): void {
  router.route('GET', PATH, { auth: 'none' }, async () => registration.nonce());

  router.route('POST', PATH, { auth: 'none' }, async (request) => {
    const body = objectBody(request.body);
    const displayName = optionalString(body, 'displayname');
    return registration.register({
      nonce: requiredString(body, 'nonce'),
      username: requiredString(body, 'username'),
      password: requiredString(body, 'password'),
      ...(displayName === undefined ? {} : { displayName }),
      admin: optionalBoolean(body, 'admin') ?? false,
      mac: requiredString(body, 'mac'),
      ip: request.ip,
    });
  });
}
