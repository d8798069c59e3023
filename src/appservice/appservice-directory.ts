/**
 * The application service room directory: rooms a service publishes under one
 * of its third-party networks (PUT/DELETE /directory/list/appservice/{networkId}/{roomId}),
 * listed by /publicRooms with `third_party_instance_id` (one network) or
 * `include_all_networks` (every list). A network's instance ID is Synapse's
 * `{service id}|{network id}`, what /thirdparty/protocols names instances by.
 */
import type { TokenOwner } from '../domain/records.js';
import { errors } from '../protocol/errors.js';
import type { PublishedList } from '../rooms/directory-service.js';
import type { AppServiceRoomListStore, NetworkListScope } from '../storage/storage.js';

export type Visibility = 'public' | 'private';

export class AppServiceDirectory {
  constructor(
    private readonly store: AppServiceRoomListStore,
    private readonly rooms: { requireRoom(roomId: string): Promise<unknown> },
  ) {}

  /** Publishes (public) or withdraws (private) the room under the requesting service's network. */
  async setVisibility(
    owner: TokenOwner,
    networkId: string,
    roomId: string,
    visibility: Visibility,
  ): Promise<void> {
    const service = owner.appService;
    if (!service) {
      throw errors.forbidden('Only appservices can edit the appservice published room list');
    }
    await this.rooms.requireRoom(roomId);
    const network = { serviceId: service.id, networkId };
    if (visibility === 'public') await this.store.publish(network, roomId, Date.now());
    else await this.store.unpublish(network, roomId);
  }

  /**
   * The list a /publicRooms request reads: a network's, every list's, or
   * undefined for the server's own (neither field given). As Synapse: both
   * fields at once, or an instance ID without exactly one `|`, is a 400.
   */
  listFor(
    thirdPartyInstanceId: string | undefined,
    includeAllNetworks: boolean,
  ): PublishedList | undefined {
    if (includeAllNetworks) {
      if (thirdPartyInstanceId !== undefined) {
        throw errors.invalidParam("Can't use include_all_networks with an explicit network");
      }
      return this.list('all');
    }
    if (thirdPartyInstanceId === undefined) return undefined;
    const bits = thirdPartyInstanceId.split('|');
    if (bits.length !== 2) throw errors.invalidParam(`Invalid ID ${thirdPartyInstanceId}`);
    return this.list({ network: { serviceId: bits[0]!, networkId: bits[1]! } });
  }

  private list(scope: NetworkListScope): PublishedList {
    return {
      scanPublished: (query) => this.store.scan(scope, query),
      countPublished: () => this.store.count(scope),
    };
  }
}
