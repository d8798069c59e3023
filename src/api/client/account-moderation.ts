/**
 * The spec's account moderation endpoints for server admins:
 * `GET`/`PUT /_matrix/client/v1/admin/{lock,suspend}/{userId}`. The router's
 * admin check comes first (403 before any lookup, as the spec asks, so
 * nobody learns which users exist).
 */
import type { AccountModerationService } from '../../admin/account-moderation-service.js';
import { requiredFlag } from '../../admin/account-moderation-rules.js';
import { objectBody } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';

const ADMIN_ONLY = { auth: 'required', admin: true } as const;

/** Each endpoint, the user flag it reads or writes and the body field naming it. */
const FLAGS = [
  { path: 'lock', flag: 'locked', field: 'locked' },
  { path: 'suspend', flag: 'suspended', field: 'suspended' },
] as const;

export function registerAccountModerationRoutes(
  router: Router,
  moderation: AccountModerationService,
): void {
  const userIdOf = (params: unknown) => (params as { userId: string }).userId;
  for (const { path, flag, field } of FLAGS) {
    const url = `/_matrix/client/v1/admin/${path}/:userId`;
    router.route('GET', url, ADMIN_ONLY, async (request) => ({
      [field]: await moderation.flag(userIdOf(request.params), flag),
    }));
    router.route('PUT', url, ADMIN_ONLY, async (request) => {
      const value = requiredFlag(objectBody(request.body), field);
      await moderation.setFlagAsSpec(
        ownerOf(request).userId,
        userIdOf(request.params),
        flag,
        value,
      );
      return { [field]: value };
    });
  }
}
