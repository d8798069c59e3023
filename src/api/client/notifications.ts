/**
 * `GET /notifications` (client-server API, "Listing Notifications"): the
 * user's notifications, newest first, paged by `from`; `only=highlight` keeps
 * the highlighted ones. The token is the position of the last one sent.
 */
import { errors } from '../../protocol/errors.js';
import { queryString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { NotificationService } from '../../push/notification-service.js';
import type { EventViews } from '../../sync/event-views.js';
import { integerParam } from './sync.js';

/** Synapse's default page size; larger asks are lowered to MAX_LIMIT. */
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;

export function registerNotificationRoutes(
  router: Router,
  notifications: NotificationService,
  views: EventViews,
): void {
  router.client('GET', '/notifications', { auth: 'required' }, async (request) => {
    const viewer = ownerOf(request);
    const query = request.query;
    const from = integerParam(queryString(query, 'from'), 'from');
    const limit = Math.min(
      integerParam(queryString(query, 'limit'), 'limit') ?? DEFAULT_LIMIT,
      MAX_LIMIT,
    );
    const only = queryString(query, 'only');
    if (limit === 0) throw errors.invalidParam('limit must be positive');
    const page = await notifications.page({
      userId: viewer.userId,
      ...(from === undefined ? {} : { before: from }),
      limit,
      onlyHighlight: only === 'highlight',
    });
    const events = await views.forClient(
      page.items.map((item) => item.event),
      viewer,
    );
    return {
      notifications: page.items.map(({ record }, i) => {
        const event: Partial<(typeof events)[number]> = { ...events[i]! };
        delete event.room_id;
        return {
          actions: record.actions,
          event,
          read: record.read,
          room_id: record.roomId,
          ts: record.ts,
        };
      }),
      ...(page.nextBefore === undefined ? {} : { next_token: String(page.nextBefore) }),
    };
  });
}
