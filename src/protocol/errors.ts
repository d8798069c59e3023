/**
 * Matrix errors: `{"errcode", "error"}` and the status the spec gives each.
 * Services and rules throw MatrixError; the HTTP layer (http/server.ts) turns
 * it into the response, headers included. Nothing here knows of HTTP beyond
 * the status number, which is part of every error's definition in the spec.
 */
export class MatrixError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
    /** Extra top-level fields of the error body (e.g. `soft_logout`, `retry_after_ms`). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'MatrixError';
  }

  body(): Record<string, unknown> {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

export const errors = {
  notJson: (msg = 'Content not JSON.') => new MatrixError(400, 'M_NOT_JSON', msg),
  badJson: (msg: string) => new MatrixError(400, 'M_BAD_JSON', msg),
  missingParam: (name: string) =>
    new MatrixError(400, 'M_MISSING_PARAM', `Missing parameter: ${name}`),
  invalidParam: (msg: string) => new MatrixError(400, 'M_INVALID_PARAM', msg),
  unrecognized: (msg = 'Unrecognized request') => new MatrixError(404, 'M_UNRECOGNIZED', msg),
  methodNotAllowed: () => new MatrixError(405, 'M_UNRECOGNIZED', 'Method not allowed'),
  tooLarge: (msg = 'Request body too large') => new MatrixError(413, 'M_TOO_LARGE', msg),
  forbidden: (msg = 'Forbidden') => new MatrixError(403, 'M_FORBIDDEN', msg),
  notFound: (msg = 'Not found') => new MatrixError(404, 'M_NOT_FOUND', msg),
  unknown: (msg: string, status = 400) => new MatrixError(status, 'M_UNKNOWN', msg),
  missingToken: () => new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access token'),
  unknownToken: (msg = 'Unknown or revoked access token') =>
    new MatrixError(401, 'M_UNKNOWN_TOKEN', msg, { soft_logout: false }),
  guestAccessForbidden: () =>
    new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access is not allowed here'),
  userDeactivated: () =>
    new MatrixError(403, 'M_USER_DEACTIVATED', 'This account has been deactivated'),
  userInUse: () => new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken.'),
  invalidUsername: (msg: string) => new MatrixError(400, 'M_INVALID_USERNAME', msg),
  weakPassword: (msg: string) => new MatrixError(400, 'M_WEAK_PASSWORD', msg),
  invalidRoomState: (msg: string) => new MatrixError(400, 'M_INVALID_ROOM_STATE', msg),
  // retry_after_ms is deprecated since v1.10 (for Retry-After) but older clients still read it.
  limitExceeded: (retryAfterMs: number) =>
    new MatrixError(429, 'M_LIMIT_EXCEEDED', 'Too many requests', {
      retry_after_ms: retryAfterMs,
    }),
};
