// Errors only the ready-made server answers with (routing and HTTP framing). They are rows of the same
// table as the library's (src/errors.ts), so clients handle one format; see docs/server.md.
import { errorClass } from '../errors.js';

/** No route matches the path. */
export class RouteNotFoundError extends errorClass('KSSE_NOT_FOUND') {}
/** The route exists but not for this method; the response carries `Allow`. */
export class MethodNotAllowedError extends errorClass('KSSE_METHOD_NOT_ALLOWED') {}
/** The client took longer than the server allows to send its request headers. */
export class RequestTimeoutError extends errorClass('KSSE_REQUEST_TIMEOUT') {}
/** The request target is longer than the server accepts. */
export class UriTooLongError extends errorClass('KSSE_URI_TOO_LONG') {}
/** The request could not be parsed as HTTP (or its path is not valid percent-encoding). */
export class BadRequestError extends errorClass('KSSE_BAD_REQUEST') {}
/** The server is shutting down; the client should retry (another instance behind the same address). */
export class ServerClosingError extends errorClass('KSSE_SERVER_CLOSING') {}
