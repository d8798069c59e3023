/** The fallback web pages (login and UIA stages). Filled in below. */
import type { Router } from '../../http/router.js';
import type { ClientApiServices } from '../client/services.js';

export function registerFallbackRoutes(_router: Router, _services: ClientApiServices): void {}
