/** Device management: list, show, rename, delete (behind UIA). */
import { errors } from '../../protocol/errors.js';
import {
  checkLength,
  objectBody,
  optionalString,
  requiredStringArray,
} from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import { MAX_DEVICE_ID_LENGTH, MAX_DISPLAY_NAME_LENGTH } from './login.js';
import { withReauthentication } from './reauth.js';
import type { ClientApiServices } from './services.js';

export function registerDeviceRoutes(router: Router, services: ClientApiServices): void {
  const { devices, appServiceDevices } = services;
  const deviceIdParam = (params: unknown) => (params as { deviceId: string }).deviceId;

  router.client('GET', '/devices', { auth: 'required', guest: true }, async (request) => ({
    devices: await devices.list(ownerOf(request).userId),
  }));

  router.client('GET', '/devices/:deviceId', { auth: 'required', guest: true }, async (request) =>
    devices.get(ownerOf(request).userId, deviceIdParam(request.params)),
  );

  router.client(
    'PUT',
    '/devices/:deviceId',
    { auth: 'required', guest: true },
    async (request, reply) => {
      const body = objectBody(request.body, { allowEmpty: true });
      const displayName = optionalString(body, 'display_name');
      checkLength(displayName, MAX_DISPLAY_NAME_LENGTH, 'display_name');
      const owner = ownerOf(request);
      const userId = owner.userId;
      const deviceId = deviceIdParam(request.params);
      // Application services create their users' devices this way (v1.17, MSC4190): 201 if new.
      if (appServiceDevices.managesDevices(owner)) {
        checkLength(deviceId, MAX_DEVICE_ID_LENGTH, 'deviceId');
        const created = await appServiceDevices.upsert(owner, deviceId, displayName);
        return reply.code(created ? 201 : 200).send({});
      }
      // device_management.yaml: "If not given, the display name is unchanged" (the device must exist).
      if (displayName === undefined) await devices.get(userId, deviceId);
      // Only application services may create devices this way (v1.17).
      else await devices.rename(userId, deviceId, displayName);
      return {};
    },
  );

  router.client('DELETE', '/devices/:deviceId', { auth: 'required' }, async (request) => {
    const owner = ownerOf(request);
    const deviceId = deviceIdParam(request.params);
    const body = objectBody(request.body, { allowEmpty: true });
    // Application services delete their users' devices without UIA (MSC4190, as Synapse).
    if (appServiceDevices.managesDevices(owner)) {
      await devices.delete(owner.userId, [deviceId]);
      return {};
    }
    await withReauthentication(services, request, body.auth, `DELETE /devices/${deviceId}`, () =>
      devices.delete(owner.userId, [deviceId]),
    );
    return {};
  });

  router.client('POST', '/delete_devices', { auth: 'required' }, async (request) => {
    const owner = ownerOf(request);
    const body = objectBody(request.body);
    const deviceIds = requiredStringArray(body, 'devices');
    if (deviceIds.length > 1000) throw errors.invalidParam('Too many devices at once');
    if (appServiceDevices.managesDevices(owner)) {
      await devices.delete(owner.userId, deviceIds);
      return {};
    }
    await withReauthentication(services, request, body.auth, 'POST /delete_devices', () =>
      devices.delete(owner.userId, deviceIds),
    );
    return {};
  });
}
