// Network helpers of the recorder. Every request is a CORS "simple request"
// (POST, Content-Type text/plain, no credentials), so browsers send it without
// a preflight and no cookie of the visitor ever reaches the Footage server.

/** Browsers refuse keepalive requests and beacons above 64 KiB: stay below. */
export const KEEPALIVE_MAX_BYTES = 60_000;
/** …and the bytes of all keepalive requests in flight at once (Chromium: 64 KiB per page). */
export const KEEPALIVE_QUOTA_BYTES = 64_000;

export type Body = string | Uint8Array;

/**
 * The compression worker's whole script: it gzips each text it is given and answers with the
 * bytes (or null). Compressing a page's snapshot takes tens of milliseconds; in a worker they
 * are not taken from the visitor's page.
 */
const GZIP_WORKER =
  'onmessage=function(e){var d=e.data;new Response(new Blob([d[1]]).stream().pipeThrough(new CompressionStream("gzip")))' +
  '.arrayBuffer().then(function(b){postMessage([d[0],b],[b])},function(){postMessage([d[0],null])})}';

/** How long a batch waits for the worker before the page compresses it itself. */
const WORKER_WAIT_MS = 5000;

/** The compression worker: undefined before the first batch, null where the page may not have one. */
let worker: Worker | null | undefined;
let nextJob = 0;
const jobs = new Map<number, (bytes: ArrayBuffer | null) => void>();

/**
 * The compression worker, started with the first batch. A page whose Content-Security-Policy
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

/** The worker's gzip of `text`, or null when it cannot give one in time. */
function gzipInWorker(text: string): Promise<ArrayBuffer | null> {
  const w = gzipWorker();
  if (!w) return Promise.resolve(null);
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
    try {
      w.postMessage([id, text]);
    } catch {
      stopWorker();
    }
  });
}

/**
 * gzip-compresses `text` with CompressionStream, in a worker where the page allows one;
 * plain text where that API is missing.
 */
export async function gzip(text: string): Promise<Body> {
  if (typeof CompressionStream === 'undefined' || typeof Blob === 'undefined' || typeof Response === 'undefined') {
    return text;
  }
  const bytes = await gzipInWorker(text);
  if (bytes) return new Uint8Array(bytes);
  try {
    const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    return text;
  }
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
