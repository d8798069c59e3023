/**
 * Synapse's media Admin API: the media of a room and of a user, deletion (one,
 * in bulk, a user's), quarantine (one, a room's, a user's), protection, and
 * the per-user statistics. Only local media exists here (no federation yet):
 * other servers' media is unknown (404), as it would be before any fetch.
 *
 * A room's media is found by a query over the room's events (content `url`
 * and `info.thumbnail_url`), not an index kept on the write path: admins ask
 * rarely, and sending stays as cheap as it was.
 */
import type { MediaAdminStore, PageQuery, UserMediaOrder } from '../domain/media-admin.js';
import type { MediaService } from '../media/media-service.js';
import { errors } from '../protocol/errors.js';
import type { MediaStore } from '../storage/storage.js';
import {
  adminMediaJson,
  localMediaIds,
  parseBulkDelete,
  pageJson,
  parseStatisticsQuery,
  splitRoomMedia,
  statisticsJson,
} from './admin-media-rules.js';
import { checkLocalUserId } from './admin-rules.js';

export interface AdminMediaStorage {
  media: Pick<MediaStore, 'get'>;
  mediaAdmin: MediaAdminStore;
  rooms: { getRoom(roomId: string): Promise<unknown> };
  users: { getUser(userId: string): Promise<unknown> };
}

const mediaNotFound = () => errors.notFound('Media not found');

export class AdminMediaService {
  constructor(
    private readonly serverName: string,
    private readonly storage: AdminMediaStorage,
    private readonly media: Pick<MediaService, 'delete'>,
  ) {}

  /** `GET /v1/room/{roomId}/media`. */
  async roomMedia(roomId: string): Promise<{ local: string[]; remote: string[] }> {
    await this.existingRoom(roomId);
    return splitRoomMedia(await this.storage.mediaAdmin.urlsInRoom(roomId), this.serverName);
  }

  /** `GET /v1/media/{serverName}/{mediaId}`: one media's details, as Synapse's media_info. */
  async mediaInfo(serverName: string, mediaId: string): Promise<Record<string, unknown>> {
    const media = serverName === this.serverName && (await this.storage.mediaAdmin.getOne(mediaId));
    if (!media) throw mediaNotFound();
    return {
      media_info: { media_origin: serverName, user_id: media.userId, ...adminMediaJson(media) },
    };
  }

  /** `DELETE /v1/media/{serverName}/{mediaId}`: the row, the file and its thumbnails. */
  async deleteOne(serverName: string, mediaId: string): Promise<Record<string, unknown>> {
    this.checkLocalServer(serverName, 'Can only delete local media');
    if (!(await this.media.delete(mediaId))) throw mediaNotFound();
    return { deleted_media: [mediaId], total: 1 };
  }

  /**
   * `POST /v1/media/delete`: unprotected media uploaded before `before_ts` and
   * larger than `size_gt`; with keep_profiles (the default) not the avatars of
   * users or rooms.
   */
  async deleteOlder(serverName: string, query: unknown): Promise<Record<string, unknown>> {
    this.checkLocalServer(serverName, 'Can only delete local media');
    const request = parseBulkDelete(query);
    let ids = await this.storage.mediaAdmin.idsForBulkDelete(request);
    if (request.keepProfiles) {
      const avatars = new Set(
        localMediaIds(await this.storage.mediaAdmin.avatarUrls(), this.serverName),
      );
      ids = ids.filter((id) => !avatars.has(id));
    }
    return this.deleteAll(ids);
  }

  /** `POST /v1/media/quarantine/{serverName}/{mediaId}` and unquarantine. */
  async quarantineOne(
    serverName: string,
    mediaId: string,
    by: string | null,
  ): Promise<Record<string, never>> {
    await this.existingLocalMedia(serverName, mediaId);
    await this.storage.mediaAdmin.setQuarantinedBy([mediaId], by, false);
    return {};
  }

  /** `POST /v1/room/{roomId}/media/quarantine`: the room's local media, protected media left. */
  async quarantineRoom(roomId: string, by: string): Promise<{ num_quarantined: number }> {
    await this.existingRoom(roomId);
    const urls = await this.storage.mediaAdmin.urlsInRoom(roomId);
    const ids = localMediaIds(urls, this.serverName);
    return { num_quarantined: await this.storage.mediaAdmin.setQuarantinedBy(ids, by, true) };
  }

  /** `POST /v1/user/{userId}/media/quarantine`: what the user uploaded, protected media left. */
  async quarantineUser(userId: string, by: string): Promise<{ num_quarantined: number }> {
    checkLocalUserId(userId, this.serverName, 'Can only quarantine media of local users');
    const ids = await this.storage.mediaAdmin.idsOfUser(userId);
    return { num_quarantined: await this.storage.mediaAdmin.setQuarantinedBy(ids, by, true) };
  }

  /** `POST /v1/media/protect/{mediaId}` and unprotect (local media: the path has no server). */
  async protect(mediaId: string, safe: boolean): Promise<Record<string, never>> {
    if (!(await this.storage.mediaAdmin.setProtected(mediaId, safe))) throw mediaNotFound();
    return {};
  }

  /** `GET /v1/users/{userId}/media`. */
  async userMedia(userId: string, page: PageQuery<UserMediaOrder>) {
    await this.existingLocalUser(userId);
    const listed = await this.storage.mediaAdmin.listOfUser(userId, page);
    return pageJson('media', listed.media.map(adminMediaJson), page.from, listed.total);
  }

  /** `DELETE /v1/users/{userId}/media`: the page the same parameters would list, as Synapse. */
  async deleteUserMedia(userId: string, page: PageQuery<UserMediaOrder>) {
    await this.existingLocalUser(userId);
    const listed = await this.storage.mediaAdmin.listOfUser(userId, page);
    return this.deleteAll(listed.media.map((media) => media.mediaId));
  }

  /** `GET /v1/statistics/users/media`. */
  async statistics(query: unknown): Promise<Record<string, unknown>> {
    const request = parseStatisticsQuery(query);
    const { users, total } = await this.storage.mediaAdmin.statistics(request);
    return pageJson('users', users.map(statisticsJson), request.from, total);
  }

  private async deleteAll(ids: readonly string[]): Promise<Record<string, unknown>> {
    const deleted: string[] = [];
    // One at a time: each removes a row and then files, and bulk deletions are rare.
    for (const id of ids) if (await this.media.delete(id)) deleted.push(id);
    return { deleted_media: deleted, total: deleted.length };
  }

  private checkLocalServer(serverName: string, message: string): void {
    if (serverName !== this.serverName) throw errors.invalidParam(message);
  }

  private async existingLocalMedia(serverName: string, mediaId: string): Promise<void> {
    if (serverName !== this.serverName || !(await this.storage.media.get(mediaId))) {
      throw mediaNotFound();
    }
  }

  private async existingRoom(roomId: string): Promise<void> {
    if (!(await this.storage.rooms.getRoom(roomId))) throw errors.notFound('Room not found');
  }

  private async existingLocalUser(userId: string): Promise<void> {
    checkLocalUserId(userId, this.serverName, 'Can only look up local users');
    if (!(await this.storage.users.getUser(userId))) throw errors.notFound('Unknown user');
  }
}
