/** `GET /_synapse/admin/v1/server_version`. */
import type { Router } from '../../http/router.js';
import type { AdminApiServices } from './services.js';

export function registerAdminServerRoutes(router: Router, services: AdminApiServices): void {
  router.admin('GET', '/v1/server_version', async () => ({
    server_version: services.serverVersion,
  }));
}
