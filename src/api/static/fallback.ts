/**
 * The fallback web pages: the login page and the UIA stage pages, which let a
 * client that cannot handle a login type or UIA stage send the user to a browser.
 */
import type { Router } from '../../http/router.js';
import type { ClientApiServices } from '../client/services.js';
import { registerLoginPage } from './login-page.js';
import { registerUiaFallback } from './uia-page.js';

export function registerFallbackRoutes(router: Router, services: ClientApiServices): void {
  registerLoginPage(router, services);
  registerUiaFallback(router, services);
}
