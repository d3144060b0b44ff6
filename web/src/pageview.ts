// One page view: its ids, the rrweb events not yet sent, and the batches
// waiting for the server. See docs/wire.md for the format and the answers.
//
// Events are kept as JSON strings, serialised once when rrweb emits them:
// that gives their size for free and a batch body is a plain string join.

import { gzip, pieces, postForAnswer, byteLength, sendOnLeave, sendPlain, utf8Length, KEEPALIVE_MAX_BYTES, KEEPALIVE_QUOTA_BYTES, type Answer, type Body } from './transport';

/** Above this, the oldest batches waiting for the server are dropped. */
const MAX_PENDING_BYTES = 5 * 1024 * 1024;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;
/** The 409 code of a batch that would take its recording past the server's size or duration cap. */
const RECORDING_LIMIT_REACHED = 'recording_limit_reached';
/** Above this, who the visitor is stays out of the leave beacons (see leave()). */
const LEAVE_VISITOR_MAX_BYTES = 8_000;

export interface PageInfo {
  url: string;
  title: string;
  referrer: string;
}

/** A value the site gave: string, number or true/false. */
export type Scalar = string | number | boolean;

/** The batch's optional `visitor` field (docs/wire.md): only what the site has said. */
export interface VisitorBody {
  id?: string;
  name?: string;
  email?: string;
  variables?: Record<string, { label: string; value: Scalar }>;
}

/** Who the visitor is, at one version: a newer version replaces an older one. */
export interface PendingVisitor {
  body: VisitorBody;
  version: number;
}

interface Batch {
  /** Given when the batch is first sent, so batches not yet sent can be merged or dropped without a gap. */
  seq?: number;
  events: string[];
  bytes: number;
  page: PageInfo;
  left: boolean;
  /** Set while a request for this batch is on its way that survives the page (keepalive). */
  keepalive?: boolean;
  /** Who the visitor is, fixed when the batch is made: a retry must send the same body. */
  visitor?: PendingVisitor;
  /**
   * A held page view's batch: its events and the body's end (`]}`) compressed in idle time, a
   * gzip member that follows the head's when the batch is sent (docs/wire.md §2).
   */
  ahead?: Promise<Body>;
}

export interface PageViewContext {
  ingestUrl: string;
  siteKey: string;
  visitorId: string;
  /** The session, or null while the page view is held (see PageView.held). */
  sessionId: string | null;
  batchMaxBytes: number;
  /** The page's address, title and referrer, masked as the site's settings say. */
  page(): PageInfo;
  /** A batch reached the server; `watched`: someone watches the visitor live. */
  onSent(watched?: boolean): void;
  /** 403 / 404: the server does not want recordings from this page. */
  onRefused(): void;
  /**
   * 409: the page view belongs to a finished recording. `limitReached`: the server ended it
   * because it reached its size or duration cap, and the rest of the visit is a new recording.
   */
  onEnded(view: PageView, limitReached: boolean): void;
  /** Who the visitor is, while no batch carrying it was acknowledged yet; null otherwise. */
  visitor(): PendingVisitor | null;
  /** A batch carrying this version was stored: stop sending it. */
  onVisitorSettled(version: number): void;
  /** A batch carrying this version was refused as malformed (400, 413…). */
  onVisitorRefused(version: number): void;
}

/** Runs `task` once the browser has painted the next frame (or 100 ms later in a hidden tab, which paints none). */
export function afterNextPaint(task: () => void): void {
  let done = false;
  const once = (): void => {
    if (done) return;
    done = true;
    clearTimeout(late);
    try {
      task();
    } catch {
      // never let a bug here reach the host page
    }
  };
  const late = setTimeout(once, 100);
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => setTimeout(once, 0));
}

export function pageInfo(): PageInfo {
  return { url: location.href, title: document.title, referrer: document.referrer };
}

export class PageView {
  readonly id: string;
  private seq = 0;
  private buffer: string[] = [];
  private bufferBytes = 0;
  private outbox: Batch[] = [];
  private inFlight: Batch | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryDelay = RETRY_MIN_MS;
  /** Bytes of our keepalive request on its way: they count against the browser's quota. */
  private keepaliveBytes = 0;
  /** No more requests: refused, ended, left or replaced. */
  private closed = false;
  /** At least one batch reached the server: it knows this page view. */
  delivered = false;
  private session: string;
  /**
   * Held: recorded ahead of the visitor's first activity (the snapshot taken in idle time),
   * kept here and never sent. `release()` makes it an ordinary page view of a session; a held
   * page view that is left or ended is forgotten, since the visitor did nothing.
   */
  private holding: boolean;

  constructor(id: string, private readonly ctx: PageViewContext) {
    this.id = id;
    this.session = ctx.sessionId || '';
    this.holding = ctx.sessionId === null;
  }

  get sessionId(): string {
    return this.session;
  }

  get held(): boolean {
    return this.holding;
  }

  /** Bytes of events not yet sent (while held: all of them). */
  get pendingBytes(): number {
    let bytes = this.bufferBytes;
    for (const batch of this.outbox) bytes += batch.bytes;
    return bytes;
  }

  /**
   * The visitor became active: the held events belong to `sessionId` and go out in batches,
   * sent after the next paint. A batch's worth held (a large page's snapshot) was compressed
   * in idle time already (add()), so the visitor's first input waits for no compression; a
   * visitor who leaves before they are sent still sends them (leave()).
   */
  release(sessionId: string): void {
    if (!this.holding || this.closed) return;
    this.holding = false;
    this.session = sessionId;
    const page = this.ctx.page();
    const visitor = this.visitorToSend();
    for (const batch of this.outbox) {
      batch.page = page;
      batch.visitor = visitor;
    }
    afterNextPaint(() => this.pump());
  }

  /** Adds one rrweb event, already serialised. */
  add(eventJson: string): void {
    if (this.closed) return;
    this.buffer.push(eventJson);
    this.bufferBytes += eventJson.length;
    if (this.bufferBytes < this.ctx.batchMaxBytes) this.enforceLimit();
    else if (!this.holding) this.flush();
    else {
      // Held (the recorder bounds a hold by its size and age): a batch's worth, sent at the
      // release, is compressed now, while the page waits for the visitor.
      const events = this.buffer;
      this.outbox.push({ events, bytes: this.bufferBytes, page: this.ctx.page(), left: false, ahead: gzip(pieces('', events, ']}')) });
      this.buffer = [];
      this.bufferBytes = 0;
    }
  }

  /** Turns the events collected so far into a batch and sends it (in order). */
  flush(left = false): void {
    if (this.closed || this.holding) return;
    const visitor = this.visitorToSend();
    // A quiet page still tells the server who the visitor is, once it knows the page view
    // (an empty batch for a page it does not know yet would be dropped).
    const identityOnly = !!visitor && this.delivered && !this.outbox.length && !this.inFlight;
    if (this.buffer.length || left || identityOnly) {
      this.outbox.push({ events: this.buffer, bytes: this.bufferBytes, page: this.ctx.page(), left, visitor });
      this.buffer = [];
      this.bufferBytes = 0;
      this.enforceLimit();
    }
    this.pump();
  }

  private visitorToSend(): PendingVisitor | undefined {
    try {
      return this.ctx.visitor() || undefined;
    } catch {
      return undefined;
    }
  }

  /** Ends the page view while the page stays open (the session changed): the last batch says `left`. */
  end(): void {
    if (this.closed) return;
    if (this.holding) return this.discard();
    this.flush(true);
    // Batches already queued are still sent; nothing new is accepted.
    this.closed = true;
  }

  /** Forgets everything not yet sent (after 403 / 404 / 409). */
  discard(): void {
    this.closed = true;
    this.buffer = [];
    this.bufferBytes = 0;
    this.outbox = [];
    clearTimeout(this.retryTimer);
  }

  /**
   * The page is going away (pagehide): sends everything still pending as
   * uncompressed JSON with sendBeacon, in pieces small enough for it. The last
   * piece says `left: true`.
   *
   * Browsers cap the bytes of all keepalive requests and beacons in flight
   * at once (64 KiB in Chromium), so only ~60 KB can be sure to leave. When
   * more is pending, the pieces that fit go by beacon, the others by a plain
   * fetch (which may or may not make it), and a small extra batch with no
   * events and `left: true` is kept inside the quota, so the server learns
   * that the visitor left in any case.
   */
  leave(): void {
    if (this.closed) return;
    if (this.holding) return this.discard(); // a page only loaded sends nothing
    this.closed = true;
    clearTimeout(this.retryTimer);

    const url = this.ctx.ingestUrl;
    const bodies: string[] = [];
    let events: string[] = [];
    for (const batch of this.outbox) {
      // A keepalive request outlives the page: it will arrive by itself.
      if (batch === this.inFlight && batch.keepalive) continue;
      // Already tried under its seq: resend it unchanged (the server keeps one copy).
      if (batch.seq !== undefined) bodies.push(this.body(batch, batch.seq));
      else events = events.concat(batch.events);
    }
    events = events.concat(this.buffer);
    this.outbox = [];
    this.buffer = [];

    const page = this.ctx.page();
    // Beacons get no answer: every piece carries who the visitor is, in case only one arrives
    // (unless it is so large that it would crowd the events out of the beacons' quota).
    let visitor = this.visitorToSend();
    if (visitor && utf8Length(JSON.stringify(visitor.body)) > LEAVE_VISITOR_MAX_BYTES) visitor = undefined;
    const leftBatch: Batch = { events: [], bytes: 0, page, left: true, visitor };
    // Room for the fields around the events (the URL and title can be long).
    const envelope = utf8Length(this.body(leftBatch, this.seq)) + 64;
    const pieces = events.length ? splitForBeacon(events, KEEPALIVE_MAX_BYTES - envelope) : [];
    const firstPieceSeq = this.seq;
    for (const piece of pieces) bodies.push(this.body({ events: piece, bytes: 0, page, left: false, visitor }, this.seq++));

    const sizes = bodies.map(utf8Length);
    const budget = KEEPALIVE_QUOTA_BYTES - this.keepaliveBytes;
    if (pieces.length && sizes.reduce((a, b) => a + b, 0) <= budget) {
      // The usual case: everything fits; the last piece carries `left`.
      bodies[bodies.length - 1] = this.body({ events: pieces[pieces.length - 1], bytes: 0, page, left: true, visitor }, firstPieceSeq + pieces.length - 1);
      for (const body of bodies) sendOnLeave(url, body);
      return;
    }
    let room = budget - envelope;
    bodies.forEach((body, i) => {
      if (sizes[i] <= room) {
        room -= sizes[i];
        sendOnLeave(url, body);
      } else {
        sendPlain(url, body);
      }
    });
    sendOnLeave(url, this.body(leftBatch, this.seq++));
  }

  /** Sends the oldest batch, one request at a time, retrying with backoff. */
  private pump(): void {
    if (this.inFlight || this.retryTimer !== undefined || !this.outbox.length) return;
    const batch = this.outbox[0];
    if (batch.seq === undefined) batch.seq = this.seq++;
    this.inFlight = batch;
    void this.send(batch, batch.seq);
  }

  private async send(batch: Batch, seq: number): Promise<void> {
    let answer: Answer = { status: 0, code: '', retryAfterMs: 0 };
    try {
      const body = await this.compressed(batch, seq);
      const size = byteLength(body);
      batch.keepalive = size < KEEPALIVE_MAX_BYTES;
      this.keepaliveBytes = batch.keepalive ? size : 0;
      answer = await postForAnswer(this.ctx.ingestUrl, body, batch.keepalive);
    } catch {
      // a network error: status 0
    }
    this.inFlight = null;
    this.keepaliveBytes = 0;
    batch.keepalive = false;
    try {
      this.answer(batch, answer);
    } catch {
      // never let a bug here reach the host page
    }
  }

  /** The batch's body, gzip-compressed (plain JSON where the browser cannot compress). */
  private async compressed(batch: Batch, seq: number): Promise<Body> {
    const events = await batch.ahead;
    if (events && typeof events !== 'string') {
      const head = await gzip([this.head(batch, seq)]);
      if (typeof head !== 'string') {
        const body = new Uint8Array(head.length + events.length);
        body.set(head);
        body.set(events, head.length);
        return body;
      }
    }
    return gzip(this.bodyPieces(batch, seq));
  }

  /** What to do with the server's answer, as in the table of docs/wire.md. */
  private answer(batch: Batch, { status, code, retryAfterMs, watched }: Answer): void {
    if (status === 403 || status === 404) {
      this.discard();
      this.ctx.onRefused();
      return;
    }
    if (status === 409) {
      this.discard();
      this.ctx.onEnded(this, code === RECORDING_LIMIT_REACHED);
      return;
    }
    const delivered = status >= 200 && status < 300;
    // Other 4xx (400, 413, 415, …): the batch itself is wrong, retrying cannot help.
    const hopeless = status >= 400 && status < 500 && status !== 429;
    if (delivered || hopeless) {
      this.remove(batch);
      this.retryDelay = RETRY_MIN_MS;
      if (batch.visitor) {
        if (delivered) this.ctx.onVisitorSettled(batch.visitor.version);
        else this.ctx.onVisitorRefused(batch.visitor.version);
      }
      if (delivered) {
        this.delivered = true;
        this.ctx.onSent(watched);
      }
      this.pump();
      return;
    }
    // 429, 5xx, network error: try again later, with growing delays, or as long as the
    // server asked (429 Retry-After). The batches wait in the outbox (at most ~5 MB).
    if (this.closed && !this.outbox.length) return;
    let delay = this.retryDelay;
    if (retryAfterMs > 0) {
      // A little jitter, so the visitors limited together do not all come back at once.
      delay = retryAfterMs + Math.floor(Math.random() * Math.min(1000, retryAfterMs / 4));
    } else {
      this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, delay);
  }

  private remove(batch: Batch): void {
    const i = this.outbox.indexOf(batch);
    if (i >= 0) this.outbox.splice(i, 1);
  }

  /** Keeps at most ~5 MB waiting: the oldest batches go first (never the one on its way). */
  private enforceLimit(): void {
    let total = this.bufferBytes;
    for (const batch of this.outbox) total += batch.bytes;
    while (total > MAX_PENDING_BYTES && this.outbox.length) {
      const i = this.outbox[0] === this.inFlight ? 1 : 0;
      if (i >= this.outbox.length) break;
      total -= this.outbox[i].bytes;
      this.outbox.splice(i, 1);
    }
  }

  /** The JSON body of a batch (docs/wire.md §2). */
  private body(batch: Batch, seq: number): string {
    return this.head(batch, seq) + batch.events.join(',') + ']}';
  }

  /** The body in pieces, for the compression worker (see `pieces`). */
  private bodyPieces(batch: Batch, seq: number): string[] {
    return pieces(this.head(batch, seq), batch.events, ']}');
  }

  /** The body up to its events, which are already JSON: spliced in, not serialised twice. */
  private head(batch: Batch, seq: number): string {
    const head = {
      v: 1,
      site_key: this.ctx.siteKey,
      visitor_id: this.ctx.visitorId,
      session_id: this.session,
      page_id: this.id,
      seq,
      page: batch.page,
      screen: { width: screen.width, height: screen.height },
      viewport: { width: window.innerWidth, height: window.innerHeight },
      left: batch.left,
      sent_at: Date.now(),
      ...(batch.visitor ? { visitor: batch.visitor.body } : {}),
    };
    return JSON.stringify(head).slice(0, -1) + ',"events":[';
  }
}

/**
 * Splits events into pieces that each fit a beacon. An event too large for
 * any beacon gets a piece of its own (sent by a plain fetch as a last try).
 */
function splitForBeacon(events: string[], limit: number): string[][] {
  const pieces: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const event of events) {
    const bytes = utf8Length(event) + 1;
    if (current.length && size + bytes > limit) {
      pieces.push(current);
      current = [];
      size = 0;
    }
    current.push(event);
    size += bytes;
  }
  if (current.length) pieces.push(current);
  return pieces;
}
