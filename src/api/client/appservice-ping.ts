/** `POST /_matrix/client/v1/appservice/{appserviceId}/ping` (application services only). */
import type { AppServicePing } from '../../appservice/appservice-ping.js';
import { accessTokenOf, type Router } from '../../http/router.js';
import { errors } from '../../protocol/errors.js';
import { objectBody, optionalString } from '../../protocol/params.js';

export function registerAppServicePingRoutes(router: Router, ping: AppServicePing): void {
  router.v1('POST', '/appservice/:appserviceId/ping', { auth: 'required' }, async (request) => {
    const { appserviceId } = request.params as { appserviceId: string };
    const body = objectBody(request.body, { allowEmpty: true });
    const transactionId = optionalString(body, 'transaction_id');
    const token = accessTokenOf(request);
    if (token === undefined) throw errors.missingToken();
    return ping.ping(token, appserviceId, transactionId);
  });
}
