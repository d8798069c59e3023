/**
 * `POST /_matrix/client/v1/appservice/{appserviceId}/ping`'s rule: the service
 * (by its as_token) asks Weft to call its own `POST /_matrix/app/v1/ping`, to
 * check that the two reach each other. The errors are the spec's; which one a
 * failure becomes follows Synapse (synapse/rest/client/appservice_ping.py).
 */
import type { AppServiceRegistration } from '../domain/appservice.js';
import { MatrixError, errors } from '../protocol/errors.js';
import { APP_PREFIX, AppServiceRequestError, type AppServiceHttp } from './appservice-http.js';

/** The body of an error answer passed on in M_BAD_STATUS is cut to this many characters. */
const MAX_PASSED_BODY = 4096;

export class AppServicePing {
  private readonly byToken = new Map<string, AppServiceRegistration>();

  constructor(
    registrations: readonly AppServiceRegistration[],
    private readonly http: AppServiceHttp,
    private readonly timeoutMs?: number,
  ) {
    for (const registration of registrations) this.byToken.set(registration.asToken, registration);
  }

  /** Pings the service the token belongs to; answers the round trip's duration. */
  async ping(
    token: string,
    appServiceId: string,
    transactionId: string | undefined,
  ): Promise<{ duration_ms: number }> {
    const service = this.byToken.get(token);
    if (!service) throw errors.forbidden('Only application services can use this endpoint');
    if (service.id !== appServiceId) {
      throw errors.forbidden('Mismatching application service ID in path');
    }
    if (service.url === null) {
      throw new MatrixError(
        400,
        'M_URL_NOT_SET',
        "Application service doesn't have a URL configured",
      );
    }
    const started = performance.now();
    const response = await this.send(service, transactionId);
    if (response.status < 200 || response.status >= 300) {
      throw new MatrixError(502, 'M_BAD_STATUS', `Ping returned status ${response.status}`, {
        status: response.status,
        body: response.text.slice(0, MAX_PASSED_BODY),
      });
    }
    return { duration_ms: Math.round(performance.now() - started) };
  }

  private async send(service: AppServiceRegistration, transactionId: string | undefined) {
    try {
      return await this.http.request(service, {
        method: 'POST',
        path: `${APP_PREFIX}/ping`,
        // Synapse sends `"transaction_id": null` when none was given; the spec makes it
        // optional, so Weft leaves it out.
        body: JSON.stringify(transactionId === undefined ? {} : { transaction_id: transactionId }),
        ...(this.timeoutMs === undefined ? {} : { timeoutMs: this.timeoutMs }),
      });
    } catch (err) {
      if (err instanceof AppServiceRequestError && err.reason === 'timeout') {
        throw new MatrixError(
          504,
          'M_CONNECTION_TIMEOUT',
          'Connection to application service timed out',
        );
      }
      const detail = err instanceof Error ? err.message : 'unknown error';
      throw new MatrixError(502, 'M_CONNECTION_FAILED', `Ping failed: ${detail}`);
    }
  }
}
