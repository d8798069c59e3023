/** Server-side key backup: /room_keys/version[/{version}] and /room_keys/keys[/{roomId}[/{sessionId}]]. */
import type { FastifyRequest } from 'fastify';
import { objectBody, queryString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { KeyPath } from '../../e2ee/key-backup.js';
import type { ClientApiServices } from './services.js';

const KEY_PATHS = [
  '/room_keys/keys',
  '/room_keys/keys/:roomId',
  '/room_keys/keys/:roomId/:sessionId',
];

export function registerRoomKeyRoutes(router: Router, services: ClientApiServices): void {
  const { keyBackup } = services.e2ee;
  const auth = { auth: 'required' } as const;
  const versionParam = (request: FastifyRequest) => (request.params as { version: string }).version;
  const userOf = (request: FastifyRequest) => ownerOf(request).userId;

  router.client('POST', '/room_keys/version', auth, async (request) =>
    keyBackup.createVersion(userOf(request), objectBody(request.body)),
  );
  router.client('GET', '/room_keys/version', auth, async (request) =>
    keyBackup.getVersion(userOf(request)),
  );
  router.client('GET', '/room_keys/version/:version', auth, async (request) =>
    keyBackup.getVersion(userOf(request), versionParam(request)),
  );
  router.client('PUT', '/room_keys/version/:version', auth, async (request) => {
    await keyBackup.updateVersion(userOf(request), versionParam(request), objectBody(request.body));
    return {};
  });
  router.client('DELETE', '/room_keys/version/:version', auth, async (request) => {
    await keyBackup.deleteVersion(userOf(request), versionParam(request));
    return {};
  });

  const keyPath = (request: FastifyRequest) => request.params as KeyPath;
  const version = (request: FastifyRequest) => queryString(request.query, 'version');
  for (const path of KEY_PATHS) {
    router.client('PUT', path, auth, async (request) =>
      keyBackup.putKeys(
        userOf(request),
        version(request),
        keyPath(request),
        objectBody(request.body),
      ),
    );
    router.client('GET', path, auth, async (request) =>
      keyBackup.getKeys(userOf(request), version(request), keyPath(request)),
    );
    router.client('DELETE', path, auth, async (request) =>
      keyBackup.deleteKeys(userOf(request), version(request), keyPath(request)),
    );
  }
}
