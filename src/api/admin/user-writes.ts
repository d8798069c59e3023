/**
 * Synapse's user admin writes: create or modify an account, deactivate,
 * reset a password, a user's devices and joined rooms. Server admins only
 * (the router checks).
 */
import type { AdminUserWriteService } from '../../admin/admin-user-write-service.js';
import { parseErase, parsePasswordReset, parseUserChanges } from '../../admin/user-write-rules.js';
import { errors } from '../../protocol/errors.js';
import {
  checkLength,
  objectBody,
  optionalString,
  requiredStringArray,
} from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import { MAX_DEVICE_ID_LENGTH, MAX_DISPLAY_NAME_LENGTH } from '../client/login.js';

export function registerAdminUserWriteRoutes(router: Router, writes: AdminUserWriteService): void {
  const userIdOf = (params: unknown) => (params as { userId: string }).userId;
  const deviceIdOf = (params: unknown) => (params as { deviceId: string }).deviceId;

  router.admin('PUT', '/v2/users/:userId', async (request, reply) => {
    const changes = parseUserChanges(objectBody(request.body));
    const { created, user } = await writes.putUser(
      ownerOf(request).userId,
      userIdOf(request.params),
      changes,
    );
    if (created) void reply.code(201);
    return user;
  });

  router.admin('POST', '/v1/deactivate/:userId', async (request) => {
    const erase = parseErase(objectBody(request.body, { allowEmpty: true }));
    await writes.deactivate(userIdOf(request.params), erase);
    // Weft binds no 3PIDs to identity servers: there is nothing to unbind.
    return { id_server_unbind_result: 'success' };
  });

  router.admin('POST', '/v1/reset_password/:userId', async (request) => {
    const { password, logoutDevices } = parsePasswordReset(objectBody(request.body));
    await writes.resetPassword(userIdOf(request.params), password, logoutDevices);
    return {};
  });

  router.admin('GET', '/v2/users/:userId/devices', async (request) =>
    writes.devices(userIdOf(request.params)),
  );

  router.admin('POST', '/v2/users/:userId/devices', async (request, reply) => {
    const body = objectBody(request.body);
    const deviceId = body.device_id;
    if (deviceId === undefined || deviceId === null || deviceId === '') {
      throw errors.missingParam('device_id');
    }
    if (typeof deviceId !== 'string') throw errors.badJson('device_id must be a string');
    checkLength(deviceId, MAX_DEVICE_ID_LENGTH, 'device_id');
    await writes.createDevice(userIdOf(request.params), deviceId);
    void reply.code(201);
    return {};
  });

  router.admin('GET', '/v2/users/:userId/devices/:deviceId', async (request) =>
    writes.device(userIdOf(request.params), deviceIdOf(request.params)),
  );

  router.admin('PUT', '/v2/users/:userId/devices/:deviceId', async (request) => {
    const body = objectBody(request.body, { allowEmpty: true });
    const displayName = optionalString(body, 'display_name');
    checkLength(displayName, MAX_DISPLAY_NAME_LENGTH, 'display_name');
    const userId = userIdOf(request.params);
    const deviceId = deviceIdOf(request.params);
    // As the client API: without a display name nothing changes (the device must exist).
    if (displayName === undefined) await writes.device(userId, deviceId);
    else await writes.renameDevice(userId, deviceId, displayName);
    return {};
  });

  router.admin('DELETE', '/v2/users/:userId/devices/:deviceId', async (request) => {
    await writes.deleteDevices(userIdOf(request.params), [deviceIdOf(request.params)]);
    return {};
  });

  router.admin('POST', '/v2/users/:userId/delete_devices', async (request) => {
    const deviceIds = requiredStringArray(objectBody(request.body), 'devices');
    if (deviceIds.length > 1000) throw errors.invalidParam('Too many devices at once');
    await writes.deleteDevices(userIdOf(request.params), deviceIds);
    return {};
  });

  router.admin('GET', '/v1/users/:userId/joined_rooms', async (request) =>
    writes.joinedRooms(userIdOf(request.params)),
  );
}
