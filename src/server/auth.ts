// Ready-made authorization for the CLI: a JWT (HS256 secret or a JWKS URL) whose claim lists the topics
// its bearer may read. Plugged into the library's `authorize(req, topics)` hook, so it runs before
// anything touches Kafka, for the topics in the path and those named in `Last-Event-ID`.
import type { IncomingMessage } from 'node:http';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { UnauthorizedError } from '../errors.js';
import type { AuthorizeResult } from '../kafkaSse.js';
import type { RequestLike } from '../types.js';

export interface JwtAuthOptions {
  /** Shared secret for HS256/384/512 tokens (at least 32 bytes). */
  secret?: string;
  /** URL of a JSON Web Key Set for asymmetric tokens (RS256, ES256, EdDSA, …). */
  jwksUrl?: string;
  /** Required `iss`. */
  issuer?: string;
  /** Required `aud`. */
  audience?: string;
  /** The claim listing readable topics (default `topics`): an array, or a space/comma-separated string; `*` is every topic. */
  topicsClaim?: string;
}

/** Browsers cannot set headers on `EventSource`, so the token may also come in this query parameter or cookie. */
export const TOKEN_QUERY_PARAMETER = 'access_token';
export const TOKEN_COOKIE = 'kafka_sse_token';

/** The bearer token of a request: `Authorization: Bearer`, else `?access_token=`, else the cookie. */
export function tokenOf(req: RequestLike): string | undefined {
  const header = req.headers.authorization;
  const bearer = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
  if (bearer) return bearer;
  const url = (req as Partial<IncomingMessage>).url;
  const queryAt = url?.indexOf('?') ?? -1;
  if (url && queryAt !== -1) {
    const fromQuery = new URLSearchParams(url.slice(queryAt + 1)).get(TOKEN_QUERY_PARAMETER);
    if (fromQuery) return fromQuery;
  }
  const cookies = req.headers.cookie;
  if (typeof cookies === 'string') {
    for (const part of cookies.split(';')) {
      const eq = part.indexOf('=');
      if (eq !== -1 && part.slice(0, eq).trim() === TOKEN_COOKIE) return decodeURIComponent(part.slice(eq + 1).trim());
    }
  }
  return undefined;
}

/** The topics a verified token grants, or `'*'` for all. */
function grantedTopics(payload: JWTPayload, claim: string): Set<string> | '*' {
  const value = payload[claim];
  const list = Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : typeof value === 'string' ? value.split(/[\s,]+/) : [];
  const topics = new Set(list.filter(Boolean));
  return topics.has('*') ? '*' : topics;
}

function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'The token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `The token's "${err.claim}" claim is not accepted`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'The token signature is not valid';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'The token is signed with an algorithm this server does not accept';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'No key of this server matches the token';
  return 'The token is not valid';
}

/**
 * An `authorize` hook for kafkaSse: 401 without a valid token, 403 when its claim lacks a topic. Allowed
 * streams carry the token's `exp` as `expiresAt`, so they end with `KSSE_TOKEN_EXPIRED` when it does.
 */
export function jwtAuthorizer(options: JwtAuthOptions): (req: RequestLike, topics: string[]) => Promise<AuthorizeResult> {
  if (!options.secret === !options.jwksUrl) throw new Error('JWT authorization needs exactly one of a secret or a JWKS URL');
  const claim = options.topicsClaim ?? 'topics';
  const key: Uint8Array | JWTVerifyGetKey = options.secret
    ? new TextEncoder().encode(options.secret)
    : createRemoteJWKSet(new URL(options.jwksUrl!), { timeoutDuration: 2000, cooldownDuration: 30_000 });
  const verifyOptions = {
    ...(options.secret ? { algorithms: ['HS256', 'HS384', 'HS512'] } : {}),
    ...(options.issuer ? { issuer: options.issuer } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
  };
  return async (req, topics) => {
    const token = tokenOf(req);
    if (!token) {
      throw new UnauthorizedError(`A bearer token is required (Authorization header, ?${TOKEN_QUERY_PARAMETER}= or the ${TOKEN_COOKIE} cookie)`);
    }
    let payload: JWTPayload;
    try {
      ({ payload } =
        key instanceof Uint8Array ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions));
    } catch (err) {
      throw new UnauthorizedError(describe(err));
    }
    const granted = grantedTopics(payload, claim);
    const allowed = granted === '*' || topics.every((t) => granted.has(t));
    return typeof payload.exp === 'number' ? { allowed, expiresAt: payload.exp * 1000 } : { allowed };
  };
}

/** Filters a topic list down to what the request's token grants (for `/v1/topics`). Throws like the hook. */
export async function readableTopics<T extends { topic: string }>(
  authorize: (req: RequestLike, topics: string[]) => Promise<boolean | AuthorizeResult> | boolean | AuthorizeResult,
  req: RequestLike,
  topics: T[],
): Promise<T[]> {
  const allowed = await Promise.all(topics.map((t) => authorize(req, [t.topic])));
  return topics.filter((_, i) => {
    const answer = allowed[i];
    return typeof answer === 'object' ? answer?.allowed === true : answer === true;
  });
}
