/**
 * Which of Synapse's Admin API endpoints Weft serves, probed over HTTP: each
 * one is asked once as a server admin, with plausible parameters, and counts
 * as served unless it answers 404 M_UNRECOGNIZED or 405 (no such route). The
 * ones Weft does not serve are listed below with the reason; the test fails
 * when the probe and that list disagree either way, so the list stays true.
 *
 * The endpoints: Ketesa's compiled list of Synapse's Admin API (its
 * docs/apis.md, from Synapse 1.151's documentation; test/vendor/ketesa), plus
 * the user reports Synapse has since added.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';

const SYNAPSE_ADMIN_ENDPOINTS = [
  'DELETE /_synapse/admin/v1/event_reports/<report_id>',
  'DELETE /_synapse/admin/v1/media/<server_name>/<media_id>',
  'DELETE /_synapse/admin/v1/registration_tokens/<token>',
  'DELETE /_synapse/admin/v1/rooms/<room_id>',
  'DELETE /_synapse/admin/v1/rooms/<room_id_or_alias>/forward_extremities',
  'DELETE /_synapse/admin/v1/users/<user_id>/media',
  'DELETE /_synapse/admin/v1/users/<user_id>/override_ratelimit',
  'DELETE /_synapse/admin/v1/users/<user_id>/shadow_ban',
  'DELETE /_synapse/admin/v2/rooms/<room_id>',
  'DELETE /_synapse/admin/v2/users/<user_id>/devices/<device_id>',
  'GET /_synapse/admin/v1/auth_providers/<provider>/users/<external_id>',
  'GET /_synapse/admin/v1/event_reports',
  'GET /_synapse/admin/v1/event_reports/<report_id>',
  'GET /_synapse/admin/v1/experimental_features/<user_id>',
  'GET /_synapse/admin/v1/federation/destinations',
  'GET /_synapse/admin/v1/federation/destinations/<destination>',
  'GET /_synapse/admin/v1/federation/destinations/<destination>/rooms',
  'GET /_synapse/admin/v1/fetch_event/<event_id>',
  'GET /_synapse/admin/v1/media/<origin>/<media_id>',
  'GET /_synapse/admin/v1/purge_history_status/<purge_id>',
  'GET /_synapse/admin/v1/register',
  'GET /_synapse/admin/v1/registration_tokens',
  'GET /_synapse/admin/v1/registration_tokens/<token>',
  'GET /_synapse/admin/v1/room/<room_id>/media',
  'GET /_synapse/admin/v1/rooms',
  'GET /_synapse/admin/v1/rooms/<room_id>',
  'GET /_synapse/admin/v1/rooms/<room_id>/block',
  'GET /_synapse/admin/v1/rooms/<room_id>/context/<event_id>',
  'GET /_synapse/admin/v1/rooms/<room_id>/hierarchy',
  'GET /_synapse/admin/v1/rooms/<room_id>/members',
  'GET /_synapse/admin/v1/rooms/<room_id>/messages',
  'GET /_synapse/admin/v1/rooms/<room_id>/state',
  'GET /_synapse/admin/v1/rooms/<room_id>/timestamp_to_event',
  'GET /_synapse/admin/v1/rooms/<room_id_or_alias>/forward_extremities',
  'GET /_synapse/admin/v1/scheduled_tasks',
  'GET /_synapse/admin/v1/server_version',
  'GET /_synapse/admin/v1/statistics/database/rooms',
  'GET /_synapse/admin/v1/statistics/users/media',
  'GET /_synapse/admin/v1/threepid/<medium>/users/<address>',
  'GET /_synapse/admin/v1/user/redact_status/<redact_id>',
  'GET /_synapse/admin/v1/username_available',
  'GET /_synapse/admin/v1/users/<user_id>/accountdata',
  'GET /_synapse/admin/v1/users/<user_id>/admin',
  'GET /_synapse/admin/v1/users/<user_id>/cumulative_joined_room_count',
  'GET /_synapse/admin/v1/users/<user_id>/joined_rooms',
  'GET /_synapse/admin/v1/users/<user_id>/media',
  'GET /_synapse/admin/v1/users/<user_id>/memberships',
  'GET /_synapse/admin/v1/users/<user_id>/override_ratelimit',
  'GET /_synapse/admin/v1/users/<user_id>/pushers',
  'GET /_synapse/admin/v1/users/<user_id>/sent_invite_count',
  'GET /_synapse/admin/v1/whois/<user_id>',
  'GET /_synapse/admin/v2/rooms/<room_id>/delete_status',
  'GET /_synapse/admin/v2/rooms/delete_status/<delete_id>',
  'GET /_synapse/admin/v2/users',
  'GET /_synapse/admin/v2/users/<user_id>',
  'GET /_synapse/admin/v2/users/<user_id>/devices',
  'GET /_synapse/admin/v2/users/<user_id>/devices/<device_id>',
  'GET /_synapse/admin/v3/users',
  'POST /_synapse/admin/v1/account_validity/validity',
  'POST /_synapse/admin/v1/deactivate/<user_id>',
  'POST /_synapse/admin/v1/federation/destinations/<destination>/reset_connection',
  'POST /_synapse/admin/v1/join/<room_id_or_alias>',
  'POST /_synapse/admin/v1/media/<server_name>/delete',
  'POST /_synapse/admin/v1/media/delete',
  'POST /_synapse/admin/v1/media/protect/<media_id>',
  'POST /_synapse/admin/v1/media/quarantine/<server_name>/<media_id>',
  'POST /_synapse/admin/v1/media/unprotect/<media_id>',
  'POST /_synapse/admin/v1/media/unquarantine/<server_name>/<media_id>',
  'POST /_synapse/admin/v1/purge_history/<room_id>[/<event_id>]',
  'POST /_synapse/admin/v1/purge_media_cache',
  'POST /_synapse/admin/v1/quarantine_media/<room_id>',
  'POST /_synapse/admin/v1/register',
  'POST /_synapse/admin/v1/registration_tokens/new',
  'POST /_synapse/admin/v1/reset_password/<user_id>',
  'POST /_synapse/admin/v1/room/<room_id>/media/quarantine',
  'POST /_synapse/admin/v1/rooms/<room_id_or_alias>/make_room_admin',
  'POST /_synapse/admin/v1/send_server_notice',
  'POST /_synapse/admin/v1/user/<user_id>/media/quarantine',
  'POST /_synapse/admin/v1/user/<user_id>/redact',
  'POST /_synapse/admin/v1/users/<user_id>/_allow_cross_signing_replacement_without_uia',
  'POST /_synapse/admin/v1/users/<user_id>/login',
  'POST /_synapse/admin/v1/users/<user_id>/override_ratelimit',
  'POST /_synapse/admin/v1/users/<user_id>/shadow_ban',
  'POST /_synapse/admin/v2/users/<user_id>/delete_devices',
  'POST /_synapse/admin/v2/users/<user_id>/devices',
  'PUT /_synapse/admin/v1/experimental_features/<user_id>',
  'PUT /_synapse/admin/v1/registration_tokens/<token>',
  'PUT /_synapse/admin/v1/rooms/<room_id>/block',
  'PUT /_synapse/admin/v1/send_server_notice/{txnId}',
  'PUT /_synapse/admin/v1/suspend/<user_id>',
  'PUT /_synapse/admin/v1/users/<user_id>/admin',
  'PUT /_synapse/admin/v2/users/<user_id>',
  'PUT /_synapse/admin/v2/users/<user_id>/devices/<device_id>',
  'GET /_synapse/admin/v1/user_reports',
  'GET /_synapse/admin/v1/user_reports/<report_id>',
  'DELETE /_synapse/admin/v1/user_reports/<report_id>',
];

/** What Weft does not serve, and why. */
const NOT_SERVED: Record<string, string> = {
  'GET /_synapse/admin/v1/auth_providers/<provider>/users/<external_id>': 'no SSO or external IDs',
  'GET /_synapse/admin/v1/threepid/<medium>/users/<address>': 'no third-party IDs',
  'POST /_synapse/admin/v1/account_validity/validity': 'no account validity module',
  'GET /_synapse/admin/v1/federation/destinations': 'no federation yet (issue 25)',
  'GET /_synapse/admin/v1/federation/destinations/<destination>': 'no federation yet (issue 25)',
  'GET /_synapse/admin/v1/federation/destinations/<destination>/rooms':
    'no federation yet (issue 25)',
  'POST /_synapse/admin/v1/federation/destinations/<destination>/reset_connection':
    'no federation yet (issue 25)',
  'POST /_synapse/admin/v1/purge_media_cache': 'no remote media cache without federation',
  'GET /_synapse/admin/v1/experimental_features/<user_id>':
    'no per-user experimental features: what Weft builds is on for everyone',
  'PUT /_synapse/admin/v1/experimental_features/<user_id>':
    'no per-user experimental features: what Weft builds is on for everyone',
  'GET /_synapse/admin/v1/rooms/<room_id>/context/<event_id>': 'not built yet',
  'GET /_synapse/admin/v1/rooms/<room_id>/hierarchy': 'not built yet',
  'GET /_synapse/admin/v1/scheduled_tasks':
    'not built yet (room deletions and purges have their own status endpoints)',
  'GET /_synapse/admin/v1/statistics/database/rooms': 'not built yet',
  'POST /_synapse/admin/v1/user/<user_id>/redact': 'not built yet',
  'GET /_synapse/admin/v1/user/redact_status/<redact_id>': 'not built yet',
  'POST /_synapse/admin/v1/users/<user_id>/_allow_cross_signing_replacement_without_uia':
    'not built yet',
};

describe("Synapse's Admin API: coverage", () => {
  const suite = serverSuite();
  const { api } = suite;
  const [root, victim] = suite.users('root', 'victim');
  const as = (session: Session) => ({ token: session.access_token });
  let roomId: string;
  let eventId: string;

  before(async () => {
    assert.equal(await suite.server.weft.storage.users.setAdmin(root.user_id, true), true);
    const created = await api.post<{ room_id: string }>(`${CLIENT_V3}/createRoom`, {}, as(victim));
    assert.equal(created.status, 200);
    roomId = created.body.room_id;
    const sent = await api.put<{ event_id: string }>(
      `${CLIENT_V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`,
      { msgtype: 'm.text', body: 'hello' },
      as(victim),
    );
    assert.equal(sent.status, 200);
    eventId = sent.body.event_id;
  });

  /** The endpoint's path with plausible values: the victim user, their room and event. */
  function concretePath(template: string): string {
    const values: Record<string, string> = {
      user_id: victim.user_id,
      room_id: roomId,
      room_id_or_alias: roomId,
      event_id: eventId,
      device_id: victim.device_id,
      server_name: 'localhost',
      origin: 'localhost',
      destination: 'remote.example',
      medium: 'email',
      address: 'someone@example.org',
    };
    return template
      .replace('[/<event_id>]', '')
      .replace(/<([a-z_]+)>|\{([a-zA-Z]+)\}/g, (_, name: string | undefined) =>
        encodeURIComponent((name && values[name]) ?? 'probe1'),
      );
  }

  it('serves every endpoint but the listed ones', async () => {
    const served: string[] = [];
    const missing: string[] = [];
    // Destructive ones last (deleting the room or deactivating the user first would
    // still answer, but later probes should meet the resources as they were).
    const order = (endpoint: string) =>
      /^(DELETE|POST) .*(rooms\/<room_id>$|deactivate|purge_history|redact$)/.test(endpoint)
        ? 1
        : 0;
    const endpoints = [...SYNAPSE_ADMIN_ENDPOINTS].sort((a, b) => order(a) - order(b));
    for (const endpoint of endpoints) {
      const [method, template] = endpoint.split(' ') as [string, string];
      const body = method === 'GET' ? undefined : {};
      const res = await api.request(method, concretePath(template), body, as(root));
      const errcode = (res.body as { errcode?: string } | undefined)?.errcode;
      assert.notEqual(res.status, 500, `${endpoint}: ${JSON.stringify(res.body)}`);
      const unrouted = (res.status === 404 && errcode === 'M_UNRECOGNIZED') || res.status === 405;
      (unrouted ? missing : served).push(endpoint);
    }
    console.log(
      `Weft serves ${served.length} of ${SYNAPSE_ADMIN_ENDPOINTS.length} Synapse Admin API endpoints`,
    );
    assert.deepEqual(missing.sort(), Object.keys(NOT_SERVED).sort());
  });
});
