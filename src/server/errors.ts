// Errors only the ready-made server answers with (routing and HTTP framing). They follow the library's
// shape — `{name, code, status, message}` — so clients handle one format; see docs/server.md.
import { defineError } from '../errors.js';

/** No route matches the path. */
export const RouteNotFoundError = defineError('RouteNotFoundError', 'KSSE_NOT_FOUND', 404);
/** The route exists but not for this method; the response carries `Allow`. */
export const MethodNotAllowedError = defineError('MethodNotAllowedError', 'KSSE_METHOD_NOT_ALLOWED', 405);
/** The client took longer than the server allows to send its request headers. */
export const RequestTimeoutError = defineError('RequestTimeoutError', 'KSSE_REQUEST_TIMEOUT', 408);
/** The request target is longer than the server accepts. */
export const UriTooLongError = defineError('UriTooLongError', 'KSSE_URI_TOO_LONG', 414);
/** The request could not be parsed as HTTP (or its path is not valid percent-encoding). */
export const BadRequestError = defineError('BadRequestError', 'KSSE_BAD_REQUEST', 400);
/** The server is shutting down; the client should retry (another instance behind the same address). */
export const ServerClosingError = defineError('ServerClosingError', 'KSSE_SERVER_CLOSING', 503);
