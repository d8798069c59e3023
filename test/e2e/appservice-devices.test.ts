/**
 * Devices application services manage for their users (v1.17, MSC4190):
 * PUT /devices/{deviceId} creates (201) or updates (200), and deletions need no UIA.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';
import { testRegistration, writeRegistrations } from '../support/appservice-registrations.js';

const DEVICE = `${CLIENT_V3}/devices/{deviceId}`;
const DEVICES = `${CLIENT_V3}/devices`;
const DELETE_DEVICES = `${CLIENT_V3}/delete_devices`;
const WHOAMI = `${CLIENT_V3}/account/whoami`;

const bridge = testRegistration('bridge', { 'io.element.msc4190': true });

describe('application service device management', () => {
  const suite = serverSuite({ app_service_config_files: writeRegistrations([bridge]) });
  const { api } = suite;
  const carol = suite.user('carol');
  const ghostId = '@bridge_dave:localhost';
  const as = (path: string, extra = '') => `${path}?user_id=${encodeURIComponent(ghostId)}${extra}`;
  const token = { token: bridge.as_token };
  const deviceIds = async () =>
    (
      expectSpec(await api.get(as(DEVICES), token), 'GET', DEVICES).devices as {
        device_id: string;
      }[]
    ).map((device) => device.device_id);

  it('creates a device with 201, updates it with 200, and can act as it', async () => {
    const reg = await api.post(
      `${CLIENT_V3}/register`,
      { type: 'm.login.application_service', username: 'bridge_dave', inhibit_login: true },
      token,
    );
    assert.equal(reg.status, 200, JSON.stringify(reg.body));
    assert.deepEqual(await deviceIds(), []);

    const created = await api.put(as(`${DEVICES}/BRIDGEDEV`), { display_name: 'Bridge' }, token);
    expectSpec(created, 'PUT', DEVICE, 201);
    const device = expectSpec(await api.get(as(`${DEVICES}/BRIDGEDEV`), token), 'GET', DEVICE);
    assert.deepEqual([device.device_id, device.display_name], ['BRIDGEDEV', 'Bridge']);

    const updated = await api.put(as(`${DEVICES}/BRIDGEDEV`), { display_name: 'Renamed' }, token);
    expectSpec(updated, 'PUT', DEVICE, 200);
    const renamed = await api.get(as(`${DEVICES}/BRIDGEDEV`), token);
    assert.equal(renamed.body.display_name, 'Renamed');
    expectSpec(await api.put(as(`${DEVICES}/SECOND`), {}, token), 'PUT', DEVICE, 201);
    assert.deepEqual((await deviceIds()).sort(), ['BRIDGEDEV', 'SECOND']);

    const who = await api.get(as(WHOAMI, '&device_id=BRIDGEDEV'), token);
    assert.equal(expectSpec(who, 'GET', WHOAMI).device_id, 'BRIDGEDEV');
  });

  it('deletes devices without UIA', async () => {
    expectSpec(await api.put(as(`${DEVICES}/GONE1`), {}, token), 'PUT', DEVICE, 201);
    expectSpec(await api.put(as(`${DEVICES}/GONE2`), {}, token), 'PUT', DEVICE, 201);
    expectSpec(await api.put(as(`${DEVICES}/GONE3`), {}, token), 'PUT', DEVICE, 201);
    expectSpec(await api.delete(as(`${DEVICES}/GONE1`), {}, token), 'DELETE', DEVICE);
    const bulk = await api.post(as(DELETE_DEVICES), { devices: ['GONE2', 'GONE3'] }, token);
    expectSpec(bulk, 'POST', DELETE_DEVICES);
    const left = await deviceIds();
    for (const id of ['GONE1', 'GONE2', 'GONE3']) assert.ok(!left.includes(id), id);
    expectError(await api.get(as(WHOAMI, '&device_id=GONE1'), token), 400, 'M_UNKNOWN_DEVICE');
  });

  it('leaves ordinary users as they were: no creation by PUT, UIA to delete', async () => {
    const missing = await api.put(
      `${DEVICES}/NEWDEVICE`,
      { display_name: 'x' },
      { token: carol.access_token },
    );
    expectError(missing, 404, 'M_NOT_FOUND');
    const uia = await api.delete(
      `${DEVICES}/${carol.device_id}`,
      {},
      { token: carol.access_token },
    );
    assert.equal(uia.status, 401, 'deleting asks for UIA');
    assert.ok(Array.isArray(uia.body.flows), JSON.stringify(uia.body));
  });
});
