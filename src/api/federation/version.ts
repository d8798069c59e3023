/**
 * `GET /_matrix/federation/v1/version`: the implementation's name and version.
 * The spec lists no security for it (version.yaml): anyone may ask, unsigned.
 */
import type { Router } from '../../http/router.js';

export function registerFederationVersionRoute(router: Router, version: string): void {
  router.route('GET', '/_matrix/federation/v1/version', { auth: 'none' }, async () => ({
    server: { name: 'Weft', version },
  }));
}
