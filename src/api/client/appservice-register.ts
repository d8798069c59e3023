/**
 * The `m.login.application_service` branches of POST /register and POST /login
 * (register.ts and login.ts hand such bodies here before anything else, so
 * that neither registration's UIA nor the per-IP limits apply: Synapse
 * exempts services' registrations too).
 */
import type { FastifyRequest } from 'fastify';
import { APPSERVICE_LOGIN_TYPE } from '../../appservice/appservice-registration.js';
import { accessTokenOf } from '../../http/router.js';
import {
  checkLength,
  objectBody,
  optionalBoolean,
  optionalString,
  requiredString,
} from '../../protocol/params.js';
import type { ClientApiServices } from './services.js';

/** login.ts's limits (importing them from there would make a cycle: login.ts imports this). */
const MAX_DEVICE_ID_LENGTH = 255;
const MAX_DISPLAY_NAME_LENGTH = 512;

/** Whether the body asks for a service's registration or login. */
export function isAppServiceRequest(body: unknown): boolean {
  return (
    typeof body === 'object' &&
    body !== null &&
    (body as Record<string, unknown>).type === APPSERVICE_LOGIN_TYPE
  );
}

/**
 * The `m.login.application_service` flow for GET /login, while any service is
 * registered (Synapse lists it always; without services it could only fail).
 */
export function appServiceLoginFlows(services: ClientApiServices): { type: string }[] {
  return services.appServices.registrations.length > 0 ? [{ type: APPSERVICE_LOGIN_TYPE }] : [];
}

function deviceFields(body: Record<string, unknown>) {
  const deviceId = optionalString(body, 'device_id');
  const initialDeviceDisplayName = optionalString(body, 'initial_device_display_name');
  checkLength(deviceId, MAX_DEVICE_ID_LENGTH, 'device_id');
  checkLength(initialDeviceDisplayName, MAX_DISPLAY_NAME_LENGTH, 'initial_device_display_name');
  return { deviceId, initialDeviceDisplayName };
}

/** POST /register by a service: its user, with or without a login. */
export async function registerForAppService(
  services: ClientApiServices,
  request: FastifyRequest,
): Promise<Record<string, unknown>> {
  const registration = services.appServiceAccounts.serviceOf(accessTokenOf(request));
  const body = objectBody(request.body);
  const registered = await services.appServiceAccounts.register(registration, {
    username: requiredString(body, 'username'),
    inhibitLogin: optionalBoolean(body, 'inhibit_login') ?? false,
    ...deviceFields(body),
    ip: request.ip,
  });
  const response: Record<string, unknown> = {
    user_id: registered.userId,
    home_server: services.config.server_name,
  };
  if (registered.session) {
    response.access_token = registered.session.accessToken;
    response.device_id = registered.session.deviceId;
  }
  return response;
}

/** POST /login by a service, for one of its users (bridges' end-to-bridge encryption bots). */
export async function loginForAppService(
  services: ClientApiServices,
  request: FastifyRequest,
): Promise<Record<string, unknown>> {
  const registration = services.appServiceAccounts.serviceOf(accessTokenOf(request));
  // Synapse limits a service's logins per IP unless the service is `rate_limited: false`.
  if (registration.rateLimited) services.limits.loginPerIp.take(request.ip);
  const body = objectBody(request.body);
  const result = await services.appServiceAccounts.login(registration, {
    identifier: body.identifier,
    ...deviceFields(body),
    ip: request.ip,
  });
  return {
    user_id: result.userId,
    access_token: result.accessToken,
    device_id: result.deviceId,
    home_server: services.config.server_name,
  };
}
