/**
 * Synapse's user moderation admin endpoints: suspension, shadow bans,
 * message rate limit overrides, logging in as a user, a user's memberships
 * and pushers. Server admins only (the router checks).
 */
import type { AccountModerationService } from '../../admin/account-moderation-service.js';
import {
  parseRateLimitOverride,
  parseValidUntil,
  requiredFlag,
} from '../../admin/account-moderation-rules.js';
import { objectBody } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';

export function registerAdminUserModerationRoutes(
  router: Router,
  moderation: AccountModerationService,
): void {
  const userIdOf = (params: unknown) => (params as { userId: string }).userId;

  // Synapse answers with the user ID in a key of its own making.
  router.admin('PUT', '/v1/suspend/:userId', async (request) => {
    const userId = userIdOf(request.params);
    const suspend = requiredFlag(objectBody(request.body), 'suspend');
    await moderation.setFlagAsSynapse(userId, 'suspended', suspend);
    return { [`user_${userId}_suspended`]: suspend };
  });

  router.admin('POST', '/v1/users/:userId/shadow_ban', async (request) => {
    await moderation.setFlagAsSynapse(userIdOf(request.params), 'shadowBanned', true);
    return {};
  });

  router.admin('DELETE', '/v1/users/:userId/shadow_ban', async (request) => {
    await moderation.setFlagAsSynapse(userIdOf(request.params), 'shadowBanned', false);
    return {};
  });

  router.admin('GET', '/v1/users/:userId/override_ratelimit', async (request) =>
    moderation.rateLimitOverride(userIdOf(request.params)),
  );

  router.admin('POST', '/v1/users/:userId/override_ratelimit', async (request) => {
    const override = parseRateLimitOverride(objectBody(request.body, { allowEmpty: true }));
    return moderation.setRateLimitOverride(userIdOf(request.params), override);
  });

  router.admin('DELETE', '/v1/users/:userId/override_ratelimit', async (request) => {
    await moderation.deleteRateLimitOverride(userIdOf(request.params));
    return {};
  });

  router.admin('POST', '/v1/users/:userId/login', async (request) => {
    const validUntil = parseValidUntil(objectBody(request.body, { allowEmpty: true }), Date.now());
    const token = await moderation.loginAs(
      ownerOf(request).userId,
      userIdOf(request.params),
      validUntil,
    );
    return { access_token: token };
  });

  router.admin('GET', '/v1/users/:userId/memberships', async (request) =>
    moderation.memberships(userIdOf(request.params)),
  );

  router.admin('GET', '/v1/users/:userId/pushers', async (request) =>
    moderation.pushers(userIdOf(request.params)),
  );
}
