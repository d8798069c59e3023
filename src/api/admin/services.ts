/** What the Admin API's handlers are given: services, no storage. */
import type { AccountService } from '../../account/account-service.js';
import type { AdminUserService } from '../../admin/admin-user-service.js';

export interface AdminApiServices {
  admin: AdminUserService;
  /** `/register/available`'s rules, which `username_available` shares. */
  accounts: Pick<AccountService, 'claimableUserId'>;
  /** Weft's version (package.json). */
  serverVersion: string;
}
