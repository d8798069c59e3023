/**
 * The application service room directory (appservice_room_directory.yaml):
 * PUT/DELETE /directory/list/appservice/{networkId}/{roomId}, with the
 * service's as_token only (403 for anyone else).
 */
import { errors } from '../../protocol/errors.js';
import { objectBody, optionalString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { Visibility } from '../../appservice/appservice-directory.js';
import type { ClientApiServices } from './services.js';

const PATH = '/directory/list/appservice/:networkId/:roomId';

interface NetworkRoomParams {
  networkId: string;
  roomId: string;
}

export function registerAppServiceDirectoryRoutes(
  router: Router,
  services: ClientApiServices,
): void {
  const directory = services.appServiceDirectory;

  router.client('PUT', PATH, { auth: 'required' }, async (request) => {
    const { networkId, roomId } = request.params as NetworkRoomParams;
    const body = objectBody(request.body, { allowEmpty: true });
    const visibility = parseVisibility(optionalString(body, 'visibility'));
    await directory.setVisibility(ownerOf(request), networkId, roomId, visibility);
    return {};
  });

  // Synapse's: the same as PUT with `private`.
  router.client('DELETE', PATH, { auth: 'required' }, async (request) => {
    const { networkId, roomId } = request.params as NetworkRoomParams;
    await directory.setVisibility(ownerOf(request), networkId, roomId, 'private');
    return {};
  });
}

/** The spec requires `visibility`; Synapse's default when it is left out is `public`, kept here. */
function parseVisibility(value: string | undefined): Visibility {
  if (value === undefined) return 'public';
  if (value !== 'public' && value !== 'private') {
    throw errors.invalidParam('visibility must be public or private');
  }
  return value;
}
