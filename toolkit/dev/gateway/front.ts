// LOCAL ONLY. The gateway's front door: a plain TCP relay in front of Deno.serve that reads
// each request's head (request line and headers) first, so that one too large to take gets
// the gateway's JSON error shape ({"code": 431, "message": ...}) like every other refusal.
// Deno.serve (hyper) itself answers a head beyond about 64 KB with an empty 400 or a reset,
// which no handler can change. Heads within the limit are passed through byte for byte.
// The server behind answers with `connection: close`, so every request arrives on a new
// connection and has its head read here.

/** The largest request head passed on (a JWT is a few KB; Node's default limit is 16 KB). */
export const MAX_HEAD_BYTES = 32 * 1024;
/** How long a client may take to send its head. */
const HEAD_TIMEOUT_MS = 10_000;

const END_OF_HEAD = new TextEncoder().encode("\r\n\r\n");

function headEnd(buf: Uint8Array, length: number): number {
  outer: for (let i = 0; i + END_OF_HEAD.length <= length; i++) {
    for (let j = 0; j < END_OF_HEAD.length; j++) {
      if (buf[i + j] !== END_OF_HEAD[j]) continue outer;
    }
    return i + END_OF_HEAD.length;
  }
  return -1;
}

/** The JSON refusal of a head that is too large, as raw HTTP/1.1. */
export function tooLarge(): Uint8Array {
  const body = JSON.stringify({ code: 431, message: `Request header fields too large (over ${MAX_HEAD_BYTES} bytes)` });
  return new TextEncoder().encode(
    "HTTP/1.1 431 Request Header Fields Too Large\r\n" +
      "content-type: application/json\r\n" +
      "access-control-allow-origin: *\r\n" +
      `content-length: ${new TextEncoder().encode(body).length}\r\n` +
      "connection: close\r\n\r\n" + body,
  );
}

/**
 * The bytes of a request up to the end of its head (and whatever of the body came with it);
 * "too large" when the head is larger than `limit`; null when the client went away or took
 * too long.
 */
export async function readHead(conn: Deno.Conn, limit = MAX_HEAD_BYTES): Promise<Uint8Array | null | "too large"> {
  const buf = new Uint8Array(limit + 8192);
  let length = 0;
  const timer = setTimeout(() => conn.close(), HEAD_TIMEOUT_MS);
  try {
    while (true) {
      const n = await conn.read(buf.subarray(length));
      if (n === null) return null;
      length += n;
      const end = headEnd(buf, length);
      if (end >= 0) return end > limit ? "too large" : buf.slice(0, length);
      if (length > limit) return "too large";
    }
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

async function relay(client: Deno.Conn, innerPort: number): Promise<void> {
  try {
    const head = await readHead(client);
    if (head === "too large") {
      await client.write(tooLarge());
      return;
    }
    if (head === null) return;
    const inner = await Deno.connect({ hostname: "127.0.0.1", port: innerPort });
    await inner.write(head);
    await Promise.allSettled([client.readable.pipeTo(inner.writable), inner.readable.pipeTo(client.writable)]);
  } catch {
    // a client that hangs up mid-request is not the gateway's problem
  } finally {
    try {
      client.close();
    } catch {
      // already closed by a finished pipe
    }
  }
}

/** Accept connections on `listener` and relay them to the server on `innerPort` until it closes. */
export async function serveFront(listener: Deno.Listener, innerPort: number): Promise<void> {
  try {
    for await (const conn of listener) relay(conn, innerPort);
  } catch {
    // the listener was closed: the gateway is stopping
  }
}
