/** `GET /_synapse/admin/v1/users/{userId}/accountdata`. */
import type { AdminAccountDataService } from '../../admin/admin-account-data.js';
import type { Router } from '../../http/router.js';

export function registerAdminAccountDataRoutes(
  router: Router,
  accountData: AdminAccountDataService,
): void {
  router.admin('GET', '/v1/users/:userId/accountdata', async (request) =>
    accountData.of((request.params as { userId: string }).userId),
  );
}
