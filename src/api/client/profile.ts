/**
 * Profiles: GET /profile/{userId}, GET/PUT/DELETE /profile/{userId}/{keyName}
 * (the older /displayname and /avatar_url paths are these with those keys).
 */
import { objectBody } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { UserDataDeps } from './user-data.js';

interface Params {
  userId: string;
  keyName?: string;
}

export function registerProfileRoutes(router: Router, { profiles }: UserDataDeps): void {
  // Reading profiles needs no token (the spec; Synapse's default).
  const READ = { auth: 'optional', guest: true } as const;
  const WRITE = { auth: 'required', guest: true } as const;

  router.client('GET', '/profile/:userId', READ, async (request) =>
    profiles.profile((request.params as Params).userId),
  );

  router.client('GET', '/profile/:userId/:keyName', READ, async (request) => {
    const { userId, keyName } = request.params as Params;
    return profiles.field(userId, keyName!);
  });

  router.client('PUT', '/profile/:userId/:keyName', WRITE, async (request) => {
    const { userId, keyName } = request.params as Params;
    await profiles.setField(ownerOf(request).userId, userId, keyName!, objectBody(request.body));
    return {};
  });

  router.client('DELETE', '/profile/:userId/:keyName', WRITE, async (request) => {
    const { userId, keyName } = request.params as Params;
    await profiles.deleteField(ownerOf(request).userId, userId, keyName!);
    return {};
  });
}
