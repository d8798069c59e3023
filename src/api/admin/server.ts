/** `GET /_synapse/admin/v1/server_version`. */
import type { Router } from '../../http/router.js';
import type { AdminApiServices } from './services.js';

export function registerAdminServerRoutes(router: Router, services: AdminApiServices): void {
  // No token needed, as Synapse: admin UIs (synapse-admin, Ketesa) read it
  // before login to tell what kind of server they are talking to.
  router.route('GET', '/_synapse/admin/v1/server_version', { auth: 'none' }, async () => ({
    server_version: services.serverVersion,
  }));
}
