/** PUT /sendToDevice/{eventType}/{txnId}. */
import { objectBody } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { ClientApiServices } from './services.js';

export function registerToDeviceRoutes(router: Router, services: ClientApiServices): void {
  const { toDevice } = services.e2ee;
  router.client(
    'PUT',
    '/sendToDevice/:eventType/:txnId',
    { auth: 'required', guest: true },
    async (request) => {
      const { eventType, txnId } = request.params as { eventType: string; txnId: string };
      const body = objectBody(request.body);
      await toDevice.send({ sender: ownerOf(request), eventType, txnId, messages: body.messages });
      return {};
    },
  );
}
