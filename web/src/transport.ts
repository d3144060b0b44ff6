// Network helpers of the recorder. Every request is a CORS "simple request"
// (POST, Content-Type text/plain, no credentials), so browsers send it without
// a preflight and no cookie of the visitor ever reaches the Footage server.

/** Browsers refuse keepalive requests and beacons above 64 KiB: stay below. */
export const KEEPALIVE_MAX_BYTES = 60_000;
/** …and the bytes of all keepalive requests in flight at once (Chromium: 64 KiB per page). */
export const KEEPALIVE_QUOTA_BYTES = 64_000;

export type Body = string | Uint8Array;

/**
 * The compression worker's whole script. A body comes in pieces, `[id, text, last]`, each
 * fed to that body's gzip stream as it arrives; after the last one the worker answers
 * `[id, bytes]` (or `[id, null]`). Compressing a page's snapshot takes tens of milliseconds;
 * in a worker they are not taken from the visitor's page.
 */
export const GZIP_WORKER =
  'var J={},E=new TextEncoder();onmessage=function(e){var d=e.data,i=d[0],w=J[i];' +
  'if(!w){var s=new CompressionStream("gzip");w=J[i]=s.writable.getWriter();' +
  'new Response(s.readable).arrayBuffer().then(function(b){postMessage([i,b],[b])},function(){postMessage([i,null])})}' +
  'w.write(E.encode(d[1])).catch(function(){});if(d[2]){delete J[i];w.close().catch(function(){})}}';

/** How long a batch waits for the worker before the page compresses it itself. */
const WORKER_WAIT_MS = 5000;

/**
 * A body goes to the worker in pieces of at most this many characters, one piece per task:
 * copying a large snapshot into the worker in one message took milliseconds, and a visitor's
 * click arriving meanwhile waited for it.
 */
export const PIECE_CHARS = 65_536;

/** The compression worker: undefined before it is first needed, null where the page may not have one. */
let worker: Worker | null | undefined;
let nextJob = 0;
const jobs = new Map<number, (bytes: ArrayBuffer | null) => void>();

/**
 * The compression worker, started with the first batch (or a held page view's events
 * compressed ahead). A page whose Content-Security-Policy
 * refuses workers from blob: addresses (or Trusted Types) gets none: it compresses itself.
 */
function gzipWorker(): Worker | null {
  if (worker !== undefined) return worker;
  worker = null;
  try {
    const url = URL.createObjectURL(new Blob([GZIP_WORKER], { type: 'text/javascript' }));
    const started = new Worker(url);
    started.onmessage = (e: MessageEvent) => {
      const answer: unknown = e.data;
      if (!Array.isArray(answer)) return;
      const [id, bytes] = answer as [number, unknown];
      const done = jobs.get(id);
      jobs.delete(id);
      if (done) done(bytes instanceof ArrayBuffer && bytes.byteLength > 0 ? bytes : null);
    };
    // Refused by the page's policy, or broken: every batch waiting is compressed by the page.
    started.onerror = (e: Event) => {
      e.preventDefault();
      stopWorker();
    };
    worker = started;
  } catch {
    // no Worker, no blob: addresses, or refused at once
  }
  return worker;
}

/** Gives up the worker for this page: what waits for it is compressed by the page instead. */
function stopWorker(): void {
  if (worker) worker.terminate();
  worker = null;
  const waiting = [...jobs.values()];
  jobs.clear();
  for (const done of waiting) done(null);
}

/**
 * Runs `task` in a task of its own, after what the browser has waiting (input first). A page
 * whose own `scheduler` throws gets the timer; one that never runs the task costs the worker's
 * wait (WORKER_WAIT_MS). A task run twice posts the next pieces early, still in order.
 */
function later(task: () => void): void {
  try {
    const scheduler = (globalThis as { scheduler?: { postTask?: (task: () => void) => unknown } }).scheduler;
    if (scheduler && typeof scheduler.postTask === 'function') {
      Promise.resolve(scheduler.postTask(task)).catch(noop);
      return;
    }
  } catch {
    // the page's own scheduler: the timer below
  }
  setTimeout(task, 0);
}

/**
 * The worker's gzip of the body made of `pieces`, or null when it cannot give one in time.
 * The worker is started (when first needed) in one task and each piece posted in one more.
 */
function gzipInWorker(pieces: string[]): Promise<ArrayBuffer | null> {
  const starting = worker === undefined;
  const w = gzipWorker();
  if (!w || !pieces.length) return Promise.resolve(null);
  return new Promise((resolve) => {
    const id = nextJob++;
    const timer = setTimeout(() => {
      // A worker this slow is stuck (or never started): the page does the work from now on.
      if (jobs.has(id)) stopWorker();
    }, WORKER_WAIT_MS);
    jobs.set(id, (bytes) => {
      clearTimeout(timer);
      resolve(bytes);
    });
    let next = 0;
    const post = (): void => {
      // Answered (or given up) already: the rest is not needed.
      if (!jobs.has(id) || worker !== w) return;
      try {
        w.postMessage([id, pieces[next], next === pieces.length - 1]);
      } catch {
        stopWorker();
        return;
      }
      if (++next < pieces.length) later(post);
    };
    if (starting) later(post);
    else post();
  });
}

/**
 * gzip-compresses the text made of `pieces` with CompressionStream, in a worker where the page
 * allows one; plain text where that API is missing.
 */
export async function gzip(pieces: string[]): Promise<Body> {
  if (typeof CompressionStream === 'undefined' || typeof Blob === 'undefined' || typeof Response === 'undefined') {
    return pieces.join('');
  }
  const bytes = await gzipInWorker(pieces);
  if (bytes) return new Uint8Array(bytes);
  try {
    const stream = new Blob(pieces).stream().pipeThrough(new CompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    return pieces.join('');
  }
}

/**
 * `head`, the events separated by commas, then `tail`, as pieces of at most `size` characters
 * (an event larger than that is sliced; a piece never ends between the two halves of a
 * surrogate pair). Slicing copies nothing: each piece is copied once, into the worker.
 */
export function pieces(head: string, events: readonly string[], tail: string, size = PIECE_CHARS): string[] {
  const out: string[] = [];
  let piece = head;
  for (let i = 0; i < events.length; i++) {
    if (i) piece += ',';
    const event = events[i];
    if (piece.length + event.length <= size) {
      piece += event;
      continue;
    }
    if (piece) out.push(piece);
    let at = 0;
    while (event.length - at > size) {
      let end = at + size;
      const c = event.charCodeAt(end - 1);
      if (c >= 0xd800 && c <= 0xdbff && end - 1 > at) end--; // keep a surrogate pair together
      out.push(event.slice(at, end));
      at = end;
    }
    piece = event.slice(at);
  }
  out.push(piece + tail);
  return out;
}

/** Size in bytes of a body as it goes on the wire (UTF-8 for strings). */
export function byteLength(body: Body): number {
  return typeof body === 'string' ? utf8Length(body) : body.byteLength;
}

/** UTF-8 length of a string without encoding it. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4; // surrogate pair: one 4-byte character
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** The longest wait a `Retry-After` may ask for; a longer one is treated as this. */
export const RETRY_AFTER_MAX_MS = 10 * 60 * 1000;

/** What the server answered to a POST. */
export interface Answer {
  /** The HTTP status, or 0 for a network error. */
  status: number;
  /** `error.code` of a 409 or 429 answer (docs/wire.md), or ''. */
  code: string;
  /** How long the server asked us to wait (429 `Retry-After`), or 0. */
  retryAfterMs: number;
  /** Someone watches this visitor live: send batches about every second (docs/wire.md). */
  watched?: boolean;
}

/**
 * POSTs a body; resolves with the HTTP status, or 0 for a network error.
 * Never rejects.
 */
export async function post(url: string, body: Body, keepalive: boolean): Promise<number> {
  return (await postForAnswer(url, body, keepalive)).status;
}

/** POSTs a body and reads what the answer says about what to do next. Never rejects. */
export async function postForAnswer(url: string, body: Body, keepalive: boolean): Promise<Answer> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      body: body as BodyInit,
      headers: { 'Content-Type': 'text/plain' },
      credentials: 'omit',
      mode: 'cors',
      keepalive,
    });
    const status = response.status;
    if (status !== 409 && status !== 429) return { status, code: '', retryAfterMs: 0, watched: !!response.headers.get('X-Footage-Watched') };
    return { status, code: await errorCode(response), retryAfterMs: retryAfterMs(response.headers.get('Retry-After')) };
  } catch {
    return { status: 0, code: '', retryAfterMs: 0 };
  }
}

async function errorCode(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { code?: unknown } };
    const code = body && body.error && body.error.code;
    return typeof code === 'string' ? code : '';
  } catch {
    return '';
  }
}

/** `Retry-After` (seconds, or an HTTP date) in milliseconds, capped; 0 when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number {
  if (!header) return 0;
  const text = header.trim();
  let ms = /^\d+$/.test(text) ? parseInt(text, 10) * 1000 : Date.parse(text) - now;
  if (!isFinite(ms) || ms <= 0) return 0;
  if (ms > RETRY_AFTER_MAX_MS) ms = RETRY_AFTER_MAX_MS;
  return ms;
}

/**
 * Sends a body while the page is going away: sendBeacon first, then a
 * keepalive fetch (sendBeacon returns false when the browser's queue is
 * full), then a plain fetch as a last try.
 */
export function sendOnLeave(url: string, text: string): void {
  const small = utf8Length(text) < KEEPALIVE_MAX_BYTES;
  try {
    if (small && typeof navigator.sendBeacon === 'function') {
      if (navigator.sendBeacon(url, new Blob([text], { type: 'text/plain' }))) return;
    }
  } catch {
    // fall back to fetch below
  }
  const plain = () => sendPlain(url, text);
  try {
    if (small) {
      fetch(url, {
        method: 'POST',
        body: text,
        headers: { 'Content-Type': 'text/plain' },
        credentials: 'omit',
        mode: 'cors',
        keepalive: true,
      }).then(noop, plain);
    } else {
      plain();
    }
  } catch {
    // nothing more can be done while the page unloads
  }
}

/** A plain POST while the page unloads: best effort, the browser may cancel it. */
export function sendPlain(url: string, text: string): void {
  try {
    fetch(url, { method: 'POST', body: text, headers: { 'Content-Type': 'text/plain' }, credentials: 'omit', mode: 'cors' }).then(
      noop,
      noop,
    );
  } catch {
    // nothing more can be done while the page unloads
  }
}

function noop(): void {
  // intentionally empty
}
