/**
 * GET /.well-known/matrix/support (v1.10): the `support` config section. The
 * server's CORS headers (http/server.ts) are on it, as on /.well-known/matrix/client.
 */
import type { SupportConfig } from '../../config/support.js';
import { supportAnswer } from '../../config/support.js';
import type { Router } from '../../http/router.js';
import { errors } from '../../protocol/errors.js';

export function registerSupportRoutes(router: Router, support: SupportConfig): void {
  const answer = supportAnswer(support);
  router.route('GET', '/.well-known/matrix/support', { auth: 'none' }, async () => {
    if (!answer) throw errors.notFound('No support information is configured on this server');
    return answer;
  });
}
