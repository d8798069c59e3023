/** What clients ask first: supported versions, .well-known, capabilities. */
import { publicBaseUrl } from '../../config/config.js';
import { ROOM_VERSIONS } from '../../events/room-versions.js';
import type { Router } from '../../http/router.js';
import type { ClientApiServices } from './services.js';

/**
 * Spec versions whose features Weft has all built: /versions decides what
 * clients switch on. r0.x are listed for old clients; v1.1 is the floor
 * modern SDKs insist on.
 * - v1.2: spaces and the hierarchy, restricted rooms, registration tokens,
 *   fallback keys, is_guest, profile capabilities.
 * - v1.3: /messages without `from`, relations and aggregations,
 *   `knock_restricted`. Refresh tokens are optional for servers: Weft never
 *   issues them (/refresh answers M_UNKNOWN_TOKEN), as the spec allows.
 * - v1.4: threads (server-side, per-thread receipts and notifications),
 *   edits, private read receipts, room types in /publicRooms and upgrades,
 *   CORP headers on media, the server ACL push rule.
 * - v1.5 to v1.19: docs/spec-versions.md audits each release's changelog, says
 *   where Weft does each of its server duties, and what it leaves out and why.
 * Never beyond v1.19: later versions drop the `access_token` query parameter,
 * which Weft keeps for old clients.
 */
export const SUPPORTED_VERSIONS = [
  'r0.0.1',
  'r0.1.0',
  'r0.2.0',
  'r0.3.0',
  'r0.4.0',
  'r0.5.0',
  'r0.6.0',
  'r0.6.1',
  'v1.1',
  'v1.2',
  'v1.3',
  'v1.4',
  'v1.5',
  'v1.6',
  'v1.7',
  'v1.8',
  'v1.9',
  'v1.10',
  'v1.11',
  'v1.12',
  'v1.13',
  'v1.14',
  'v1.15',
  'v1.16',
  'v1.17',
  'v1.18',
  'v1.19',
];

export function registerDiscoveryRoutes(router: Router, { config }: ClientApiServices): void {
  router.route('GET', '/_matrix/client/versions', { auth: 'none' }, async () => ({
    versions: SUPPORTED_VERSIONS,
    unstable_features: {
      // Authenticated media, as Synapse still says beside v1.11: clients from before v1.11
      // look for it, and media uploaded under the freeze (the default) loads only that way.
      'org.matrix.msc3916.stable': true,
      // The unstable mutual rooms path (api/client/mutual-rooms.ts), as Synapse names it.
      'uk.half-shot.msc2666.query_mutual_rooms': true,
      // Simplified sliding sync (MSC4186): Element X refuses a server without it.
      'org.matrix.simplified_msc3575': true,
    },
  }));

  router.route('GET', '/.well-known/matrix/client', { auth: 'none' }, async (request) => {
    const address = request.server.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    return { 'm.homeserver': { base_url: publicBaseUrl(config, port) } };
  });

  router.client('GET', '/capabilities', { auth: 'required' }, async () => ({
    capabilities: {
      'm.change_password': { enabled: true },
      'm.room_versions': {
        default: config.default_room_version,
        available: Object.fromEntries([...ROOM_VERSIONS.values()].map((v) => [v.id, v.stability])),
      },
      // Every profile field is editable (api/client/profile.ts); the deprecated
      // capabilities say the same as m.profile_fields.
      'm.profile_fields': { enabled: true },
      'm.set_displayname': { enabled: true },
      'm.set_avatar_url': { enabled: true },
      'm.3pid_changes': { enabled: false },
      'm.get_login_token': { enabled: config.login.get_login_token_enabled },
      // Server admins may lock and suspend accounts (api/client/account-moderation.ts).
      'm.account_moderation': { lock: true, suspend: true },
    },
  }));
}
