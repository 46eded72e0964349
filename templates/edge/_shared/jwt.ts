// HS256 JSON Web Tokens with WebCrypto only: what Supabase's gateway checks when a function
// has verify_jwt, done again by the local server (and by handlers when the secret is known).

export interface Claims {
  sub?: string;
  role?: string;
  exp?: number;
  nbf?: number;
  iat?: number;
  [claim: string]: unknown;
}

export class JwtError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JwtError";
  }
}

const encoder = new TextEncoder();

function base64UrlDecode(part: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw new JwtError("not base64url");
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (part.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function base64UrlEncode(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function parseJsonPart(part: string, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(new TextDecoder().decode(base64UrlDecode(part)));
    if (value && typeof value === "object" && !Array.isArray(value)) return value;
  } catch {
    // fall through: reported below without the decoder's detail
  }
  throw new JwtError(`malformed ${what}`);
}

/** The claims of a token without checking its signature (after the gateway checked it). */
export function decodeJwt(token: string): Claims {
  const parts = token.split(".");
  if (parts.length !== 3) throw new JwtError("not a JWT");
  return parseJsonPart(parts[1], "payload") as Claims;
}

function hmacKey(secret: string, usage: "sign" | "verify"): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    usage,
  ]);
}

/**
 * Verify an HS256 token: the header must say HS256 (never "none"), the signature must match
 * (compared in constant time by WebCrypto), `exp` must be present and in the future, `nbf`
 * (when present) in the past. Throws JwtError with a short reason otherwise.
 */
export async function verifyJwt(
  token: string,
  secret: string,
  nowSeconds = Date.now() / 1000,
): Promise<Claims> {
  if (!secret) throw new JwtError("no JWT secret configured");
  const parts = token.split(".");
  if (parts.length !== 3) throw new JwtError("not a JWT");
  const header = parseJsonPart(parts[0], "header");
  if (header.alg !== "HS256") throw new JwtError(`unsupported algorithm ${String(header.alg)}`);
  let signature: Uint8Array<ArrayBuffer>;
  try {
    signature = base64UrlDecode(parts[2]);
  } catch {
    throw new JwtError("malformed signature");
  }
  const key = await hmacKey(secret, "verify");
  const ok = await crypto.subtle.verify("HMAC", key, signature, encoder.encode(`${parts[0]}.${parts[1]}`));
  if (!ok) throw new JwtError("invalid signature");
  const claims = parseJsonPart(parts[1], "payload") as Claims;
  if (typeof claims.exp !== "number") throw new JwtError("no exp claim");
  if (claims.exp <= nowSeconds) throw new JwtError("token expired");
  if (typeof claims.nbf === "number" && claims.nbf > nowSeconds) throw new JwtError("token not valid yet");
  return claims;
}

/** Sign claims with HS256 (tests and local tooling; the toolkit's Python side has its own). */
export async function signJwt(claims: Claims, secret: string): Promise<string> {
  const head = base64UrlEncode(encoder.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const body = base64UrlEncode(encoder.encode(JSON.stringify(claims)));
  const key = await hmacKey(secret, "sign");
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(`${head}.${body}`)));
  return `${head}.${body}.${base64UrlEncode(sig)}`;
}

/** The bearer token of a request, or null. */
export function bearerToken(req: Request): string | null {
  const auth = req.headers.get("authorization") ?? "";
  const m = /^Bearer\s+(\S+)$/i.exec(auth.trim());
  return m ? m[1] : null;
}

/**
 * The caller's claims inside a handler. Supabase's gateway verified the token already
 * (verify_jwt in config.json); when a secret is available here too (JWT_SECRET, as the local
 * server sets it) the signature is checked again rather than trusted.
 */
export async function requestClaims(req: Request): Promise<Claims | null> {
  const token = bearerToken(req);
  if (!token) return null;
  const secret = Deno.env.get("JWT_SECRET") ?? Deno.env.get("SUPABASE_JWT_SECRET") ?? "";
  try {
    if (secret) return await verifyJwt(token, secret);
    const claims = decodeJwt(token);
    // Even when trusting the gateway's signature check, an expired token is refused.
    return typeof claims.exp === "number" && claims.exp > Date.now() / 1000 ? claims : null;
  } catch {
    return null;
  }
}
