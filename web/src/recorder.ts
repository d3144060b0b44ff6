// footage.js — the recorder that site owners add to their pages.
//
//   window.footage = window.footage || function () { (footage.q = footage.q || []).push(arguments); };
//   footage('init', 'SITE_KEY', { host: 'https://footage.example.com' });
//
// The snippet queues calls until this file has loaded; we then replace
// `window.footage` by the real dispatcher and replay the queue. Nothing else
// is exposed globally, and nothing may throw into the host page: every entry
// point (commands, listeners, timers, rrweb's emit) is wrapped in try/catch.
//
// The wire format with the server is described in docs/wire.md.

import { record } from 'rrweb';
import { uuid, visitorId, readSession, isAlive, touchSession, newSession, readFlag, writeFlag } from './ids';
import { captureCanvases } from './canvas';
import { ACTIVITY, ASK, ERROR, RECORD, frameAddresses, frameMessage, inviteFrames, isOwnFrame, underOtherOrigin } from './crossframe';
import { maskAll, maskText, maskValue, scrubEvent, scrubUrl, PageMaskState, type MaskRules } from './masking';
import { PageView, afterNextPaint, pageInfo, type PageInfo, type PendingVisitor, type Scalar, type VisitorBody } from './pageview';
import { privacyGate, type Privacy } from './privacy';
import { postForAnswer, type Answer } from './transport';
import { offerCopies } from './copies';
import { ERROR_TAG, EVENT_TAG, FULL_SNAPSHOT, MUTATION } from './vocabulary';

// ---- configuration ----------------------------------------------------------

interface Config {
  batchIntervalMs: number;
  batchMaxBytes: number;
  heartbeatIntervalMs: number;
  sessionTimeoutMs: number;
  /** Canvas pictures per second (canvas.ts); 0: canvases are not recorded. */
  canvasFps: number;
  /** Offer the page's images and fonts to the server's kept copies (copies.ts). */
  offerCopies: boolean;
  /** What is recorded as it is; everything else is masked before it leaves the browser. */
  record: MaskRules;
  privacy: Privacy;
}

/** Used where the server's config leaves a value out (or sends nonsense). */
const DEFAULTS: Config = {
  batchIntervalMs: 5000,
  batchMaxBytes: 262_144,
  heartbeatIntervalMs: 20_000,
  sessionTimeoutMs: 30 * 60 * 1000,
  canvasFps: 0,
  offerCopies: false,
  // Until the server says otherwise, mask everything that can be masked.
  record: { forms: false, numbers: false, emails: false, allNumbers: true },
  privacy: { recordMobile: true, excludedPages: [], respectDoNotTrack: false, requireConsent: false },
};

/**
 * The page's images and fonts are offered this long after its first batch was stored: by then
 * the server has copied what it can reach itself, and the browser reads and hashes the rest.
 */
const COPIES_AFTER_MS = 10_000;
/** The batch interval while someone watches the visitor live (footage/live). */
const WATCHED_INTERVAL_MS = 1000;
/** The first batch of a page view goes out quickly, so the server knows the visitor is there. */
const FIRST_BATCH_DELAY_MS = 800;
/**
 * …and at once on the next page of a visit: the server finishes a recording whose pages were
 * all left a short while ago (its leave grace, counted from the last batch), so the page the
 * visitor went on to tells it as soon as its snapshot is there.
 */
const NEXT_PAGE_BATCH_DELAY_MS = 0;
/**
 * Before the visitor's first activity the page is recorded ahead, held in memory and never
 * sent (see prepareHeld): at most this long and this much, then it is taken again.
 */
const HOLD_MAX_MS = 5 * 60 * 1000;
const HOLD_MAX_BYTES = 4 * 1024 * 1024;
/** A page that keeps outgrowing its hold is left alone: the recording starts at the activity. */
const MAX_HOLDS = 6;
/** The hold starts when the browser is idle after load, or after this long at the latest. */
const HOLD_IDLE_TIMEOUT_MS = 2000;
/** Activity is written to localStorage at most this often (mousemove fires constantly). */
const ACTIVITY_WRITE_MS = 5000;
/** Guards against a server that would answer 409 to every new page view. */
const MAX_RESTARTS = 5;
/** A page throwing in a loop must not flood the recording. */
const MAX_ERRORS_PER_VIEW = 50;

/** What the site may say about its visitor and its events (docs/wire.md; the server checks too). */
const MAX_IDENTITY_CHARS = 200;
const MAX_VARIABLES = 50;
const MAX_KEY_CHARS = 100;
const MAX_LABEL_CHARS = 100;
const MAX_VALUE_CHARS = 500;
const MAX_EVENT_NAME_CHARS = 100;
const MAX_EVENT_PROPS = 50;
/** …and a page calling footage('event') in a loop must not flood the recording either. */
const MAX_SITE_EVENTS_PER_VIEW = 500;

/** First-party flags, kept in the site's localStorage. */
const VISITOR_EXCLUDED_KEY = 'footage_excluded';
const CONSENT_KEY = 'footage_consent';

/** Elements whose inputs are always masked, and whose events are not recorded at all. */
const IGNORE_MASK = '[data-recording-ignore="mask"]';
/** Text inside these is never plain page text: an ignored area, a textarea, an editable area. */
const MASKED_AREAS = `${IGNORE_MASK}, textarea, [contenteditable]:not([contenteditable="false" i])`;
const IGNORE_EVENTS = '[data-recording-ignore="events"]';
/** rrweb's IncrementalSource values that point at one target element (`id`). */
const SOURCE_MOUSE_MOVE = 1;
const SOURCE_MOUSE_INTERACTION = 2;
const SOURCE_SCROLL = 3;
const SOURCE_INPUT = 5;
const SOURCE_TOUCH_MOVE = 6;
const SOURCE_DRAG = 12;
const EVENT_INCREMENTAL = 3;

const ACTIVITY_EVENTS = ['mousemove', 'mousedown', 'scroll', 'keydown', 'touchstart'];
const LISTEN: AddEventListenerOptions = { capture: true, passive: true };

// ---- state ------------------------------------------------------------------

const state = {
  initialised: false,
  host: '',
  siteKey: '',
  config: DEFAULTS,
  /** The site has chat on: footage-chat.js was loaded. */
  chat: false,
  /** The server refused this page (403 / 404): nothing more is recorded or sent. */
  refused: false,
  /** The config arrived and allows recording on this site. */
  configured: false,
  /** `footage('recording:disable', true)` on this page. */
  pageDisabled: false,
  /** The page told us the visitor's consent (true / false) during this page load. */
  consent: null as boolean | null,
  /** What this page's fields are (password, masked…), for masking later events. */
  masks: new PageMaskState(),
  /** Waiting for the visitor's first real activity before recording. */
  waiting: false,
  /** Cancels the idle callback that will start a held page view (null: none planned). */
  cancelHold: null as (() => void) | null,
  holdTimer: undefined as ReturnType<typeof setTimeout> | undefined,
  holds: 0,
  /** When the visitor was first active while the config was still on its way (0: not yet). */
  earlyActivityAt: 0,
  stopEarlyWatch: null as (() => void) | null,
  /** Between pagehide and a bfcache restore. */
  away: false,
  view: null as PageView | null,
  /** In a frame of another origin: the origin of the page above whose recording this page
   * joined (crossframe.ts); '' when it records on its own. */
  parentOrigin: '',
  lastFrameActivity: 0,
  /** In a same-origin frame recorded by the page above: passes this page's errors up. */
  forwardError: null as ((payload: ErrorPayload) => void) | null,
  /** Masks and adds the page view's events still waiting for the next paint. */
  drain: null as (() => void) | null,
  /** The visitor's first activity releases (or starts) the page view after the next paint:
   * this runs it now (null: none waiting). */
  release: null as (() => void) | null,
  /** The page view's event handler (scrub, serialise, add), for events Footage makes itself. */
  emit: null as ((event: { type: number; data?: unknown; timestamp: number }) => void) | null,
  /** An `input` event is being dispatched: the visitor is typing (typedValue). */
  typing: false,
  /** Fields whose last recorded value left out the word being typed. */
  typedTail: new WeakSet<Element>(),
  stopRecording: null as (() => void) | null,
  errorsInView: 0,
  siteEventsInView: 0,
  /** Who the visitor is, as the page said (latest value wins); sent until a batch with it is stored. */
  identity: { variables: Object.create(null) } as Identity,
  identityVersion: 0,
  identitySettled: 0,
  /** The version a batch was refused with once (400, 413…): a second refusal settles it. */
  identityRefused: 0,
  restarts: 0,
  lastSentAt: 0,
  /** Someone watches this visitor live (the last answer said so). */
  watched: false,
  lastActivityWrite: 0,
  flushTimer: undefined as ReturnType<typeof setInterval> | undefined,
  heartbeatTimer: undefined as ReturnType<typeof setInterval> | undefined,
  firstBatchTimer: undefined as ReturnType<typeof setTimeout> | undefined,
};

// The script element is only known while this file first runs.
const scriptSrc = findScriptSrc();

// ---- commands ---------------------------------------------------------------

type Command = (...args: unknown[]) => void;

/** `footage(name, ...args)` commands. Add new ones here. */
const commands: Record<string, Command> = {
  init: (key, options) => init(key, options),
  // Who the visitor is (docs/privacy.md): sent as the batches' `visitor` field, not masked.
  name: (name) => identify({ name }),
  email: (email) => identify({ email }),
  variables: (variables) => identify({ variables }),
  // footage('identify', id, {name, email, ...anything else becomes a variable})
  identify: (id, traits) => {
    const rest = isPlainObject(traits) ? { ...traits } : {};
    const { name, email } = rest;
    delete rest.name;
    delete rest.email;
    identify({ id, name, email, variables: rest });
  },
  // A custom event at this moment of the recording; dropped while nothing is recorded (also
  // while the page is only recorded ahead, before the visitor's first activity).
  event: (name, props) => trackEvent(name, props),
  // Nothing from this page is recorded (false: record it again).
  'recording:disable': (disabled) => {
    state.pageDisabled = disabled !== false;
    reconsider();
  },
  // This browser is never recorded again, on any page of the site (false: it may be again).
  'visitor:exclude': (excluded) => {
    writeFlag(VISITOR_EXCLUDED_KEY, excluded !== false);
    reconsider();
  },
  // The visitor's answer to the site's consent banner, remembered for the next pages.
  consent: (given) => {
    state.consent = given === true;
    writeFlag(CONSENT_KEY, given === true);
    reconsider();
  },
  getVisitorId: (callback) => {
    if (typeof callback === 'function') callback(visitorId());
  },
  // A same-origin frame this page records passes its visitor's activity on (see install()).
  'frame:activity': (event) => {
    if (!event || typeof event !== 'object' || !(event as Event).isTrusted) return;
    if (state.stopEarlyWatch && !state.earlyActivityAt) state.earlyActivityAt = Date.now(); // config on its way
    onActivity(event as Event);
  },
  // …and its JavaScript errors, which belong to the page's timeline.
  'frame:error': (payload) => frameError(payload),
  // footage-chat.js (loaded below when the site has chat on) asks what it needs.
  'chat:context': (callback) => {
    if (state.chat && typeof callback === 'function') {
      callback({ host: state.host, siteKey: state.siteKey, visitorId: visitorId() });
    }
  },
};

function dispatch(args: ArrayLike<unknown>): void {
  try {
    const name = args[0];
    if (typeof name !== 'string' || !Object.prototype.hasOwnProperty.call(commands, name)) return;
    commands[name](...Array.prototype.slice.call(args, 1));
  } catch {
    // a bad call (or a throwing callback) must not break the host page
  }
}

/**
 * The `footage` function of the nearest same-origin frame above this one that has the snippet
 * (its queueing stub, or the real function), or null: at the top, or below another origin.
 */
function recordingAncestor(): Command | null {
  let w: Window = window;
  try {
    while (w.parent && w.parent !== w) {
      w = w.parent;
      const found = (w as unknown as { footage?: unknown }).footage; // throws across origins
      if (typeof found === 'function') return found as Command;
    }
  } catch {
    // a frame of another origin: this page is not recorded by it
  }
  return null;
}

/** Calls a frame may pass to the page that records it; `init` and the chat stay with the page. */
const FORWARDED = new Set(['name', 'email', 'variables', 'identify', 'event', 'recording:disable', 'visitor:exclude', 'consent', 'getVisitorId']);

/** Replaces the snippet's queueing stub by the real function and replays the queued calls. */
function install(): void {
  const w = window as unknown as { footage?: { q?: ArrayLike<unknown>[]; loaded?: boolean } };
  const stub = w.footage;
  if (stub && stub.loaded) return; // footage.js included twice: the first copy stays in charge
  const queue = stub && Array.isArray(stub.q) ? stub.q : [];
  // A page in a same-origin frame of a page with the snippet is recorded by that page, as part
  // of it (rrweb records same-origin frames): it starts no recording of its own, and its calls
  // go to that page's recorder.
  const ancestor = recordingAncestor();
  const run = ancestor
    ? (args: ArrayLike<unknown>) => {
        // The page's function as it is now: its stub queues, its loaded recorder runs.
        const above = recordingAncestor() || ancestor;
        if (typeof args[0] === 'string' && FORWARDED.has(args[0])) above(...Array.prototype.slice.call(args));
      }
    : dispatch;
  const footage = function (...args: unknown[]) {
    try {
      run(args);
    } catch {
      // never break the host page
    }
  } as ((...args: unknown[]) => void) & { loaded?: boolean };
  footage.loaded = true;
  w.footage = footage;
  if (ancestor) {
    // The page above records this frame; the visitor's moves and keys in here are activity there.
    // Only to a recorder that has loaded: its snippet's stub would queue every move.
    const pass = guard((event: Event) => {
      const above = recordingAncestor() as (Command & { loaded?: boolean }) | null;
      if (above && above.loaded) above('frame:activity', event);
    });
    for (const type of ACTIVITY_EVENTS) window.addEventListener(type, pass, LISTEN);
    state.forwardError = (payload) => {
      const above = recordingAncestor() as (Command & { loaded?: boolean }) | null;
      if (above && above.loaded) above('frame:error', payload);
    };
    window.addEventListener('error', guard(onError));
    window.addEventListener('unhandledrejection', guard(onRejection));
  }
  for (const args of queue) footage(...Array.prototype.slice.call(args));
}

// ---- init & config ----------------------------------------------------------

function init(key: unknown, options: unknown): void {
  if (state.initialised || typeof key !== 'string' || !key) return;
  if (typeof fetch !== 'function' || typeof JSON === 'undefined') return;
  const opts = (options && typeof options === 'object' ? options : {}) as { host?: unknown };
  const host = typeof opts.host === 'string' && opts.host ? opts.host : hostFromScript(scriptSrc);
  if (!host) return;
  state.initialised = true;
  state.siteKey = key;
  state.host = host.replace(/\/+$/, '');
  watchEarlyActivity();
  // The config is asked for from a microtask, not from inside the script's first run: where
  // DevTools is attached, the browser keeps the script stack of every request, and from the
  // top level that stack holds this whole file, which V8 then parses again to place it.
  void Promise.resolve()
    .then(loadConfig)
    .then((config) => {
      stopEarlyWatch();
      if (!config) return; // unknown site, switched off, or unreachable: record nothing
      state.config = config;
      state.configured = true;
      start();
    });
}

/**
 * A visitor who moves the mouse while the config is still loading has been active: the
 * recording then starts as soon as the config allows it, not at some later move.
 */
function watchEarlyActivity(): void {
  const seen = guard((event: Event) => {
    if (event.isTrusted && !state.earlyActivityAt) state.earlyActivityAt = Date.now();
  });
  for (const type of ACTIVITY_EVENTS) window.addEventListener(type, seen, LISTEN);
  state.stopEarlyWatch = () => {
    for (const type of ACTIVITY_EVENTS) window.removeEventListener(type, seen, LISTEN);
  };
}

function stopEarlyWatch(): void {
  if (state.stopEarlyWatch) state.stopEarlyWatch();
  state.stopEarlyWatch = null;
}

/** The site config, or null when this page must not be recorded. */
async function loadConfig(): Promise<Config | null> {
  try {
    const url = `${state.host}/api/v1/sites/${encodeURIComponent(state.siteKey)}/config`;
    const response = await fetch(url, { credentials: 'omit', mode: 'cors' });
    if (!response.ok) return null;
    const body = (await response.json()) as Record<string, unknown>;
    if (body && body.chat_enabled === true) loadChat();
    if (!body || body.enabled !== true) return null;
    return {
      batchIntervalMs: num(body.batch_interval_ms, DEFAULTS.batchIntervalMs, 1000, 60_000),
      batchMaxBytes: num(body.batch_max_bytes, DEFAULTS.batchMaxBytes, 16_384, 1_000_000),
      heartbeatIntervalMs: num(body.heartbeat_interval_ms, DEFAULTS.heartbeatIntervalMs, 5000, 300_000),
      sessionTimeoutMs: num(body.session_timeout_ms, DEFAULTS.sessionTimeoutMs, 60_000, 24 * 3600_000),
      canvasFps: num(body.canvas_fps, DEFAULTS.canvasFps, 0, 10),
      offerCopies: body.offer_copies === true,
      record: {
        forms: flag(body.record, 'forms'),
        numbers: flag(body.record, 'numbers'),
        emails: flag(body.record, 'emails'),
        // Absent (an older server): every digit, as that server's own masks do.
        allNumbers: !(body.record && typeof body.record === 'object' && (body.record as Record<string, unknown>).all_numbers === false),
      },
      privacy: {
        recordMobile: body.record_mobile !== false,
        excludedPages: Array.isArray(body.excluded_pages)
          ? body.excluded_pages.filter((p): p is string => typeof p === 'string')
          : [],
        respectDoNotTrack: body.respect_do_not_track === true,
        requireConsent: body.require_consent === true,
      },
    };
  } catch {
    return null;
  }
}

/**
 * The chat box is its own file, fetched only where the site has chat on (whether or not
 * this visitor is recorded), so footage.js stays small. It is never part of a recording.
 */
function loadChat(): void {
  if (state.chat) return;
  state.chat = true;
  const script = document.createElement('script');
  script.async = true;
  script.src = `${state.host}/footage-chat.js`;
  (document.head || document.documentElement).appendChild(script);
}

/** A flag the server must set to true explicitly: anything else keeps the mask on. */
function flag(group: unknown, name: string): boolean {
  return !!group && typeof group === 'object' && (group as Record<string, unknown>)[name] === true;
}

function num(value: unknown, fallback: number, min: number, max: number): number {
  return typeof value === 'number' && isFinite(value) ? Math.min(max, Math.max(min, value)) : fallback;
}

/** document.currentScript is only set while this file runs for the first time. */
function findScriptSrc(): string {
  try {
    const current = document.currentScript as HTMLScriptElement | null;
    if (current && current.src) return current.src;
    const scripts = document.getElementsByTagName('script');
    for (let i = scripts.length - 1; i >= 0; i--) {
      if (/\/footage(\.min)?\.js([?#]|$)/.test(scripts[i].src)) return scripts[i].src;
    }
  } catch {
    // no DOM access: the host must be given to init
  }
  return '';
}

/** `https://x.example/path/footage.js?v=2` → `https://x.example/path`. */
function hostFromScript(src: string): string {
  if (!src) return '';
  try {
    const url = new URL(src, location.href);
    return url.origin + url.pathname.replace(/\/[^/]*$/, '');
  } catch {
    return '';
  }
}

// ---- lifecycle --------------------------------------------------------------

/** The site is enabled: watch the visitor and the page, then begin. */
function start(): void {
  for (const type of ACTIVITY_EVENTS) window.addEventListener(type, guard(onActivity), LISTEN);
  window.addEventListener('pagehide', guard(onPageHide));
  // Before rrweb's own listener (on the document): marks the values it reads as being typed.
  window.addEventListener('input', guard(onTyping), LISTEN);
  window.addEventListener('input', typed, { passive: true });
  window.addEventListener('pageshow', guard(onPageShow));
  document.addEventListener('visibilitychange', guard(onVisibilityChange));
  // Not capturing: resource load errors (a broken <img>) do not reach window, script errors do.
  window.addEventListener('error', guard(onError));
  window.addEventListener('unhandledrejection', guard(onRejection));
  window.addEventListener('message', guard(onMessage));
  begin();
}

/**
 * A page (or a bfcache restore) begins. Within a started session we record
 * right away, so the page change is captured; otherwise the recording waits
 * for the visitor's first real activity: a page only loaded sends nothing.
 */
function begin(): void {
  if (!mayRecord()) return;
  // In a frame of another origin: a page above of this site may record this page as part of
  // its own (crossframe.ts). Until it answers, this page goes on as any page.
  if (underOtherOrigin()) window.parent.postMessage({ type: ASK, siteKey: state.siteKey }, '*');
  const session = readSession();
  if (isAlive(session, Date.now(), state.config.sessionTimeoutMs) && session.started) {
    startView(session.id, NEXT_PAGE_BATCH_DELAY_MS);
  } else if (state.earlyActivityAt) {
    // The visitor was already active while the config loaded.
    state.lastActivityWrite = state.earlyActivityAt;
    startView(touchSession(state.earlyActivityAt, state.config.sessionTimeoutMs).id);
  } else {
    state.waiting = true;
    state.holds = 0;
    planHold();
  }
  state.earlyActivityAt = 0;
}

/**
 * While the page waits for the visitor's first activity, records it ahead when the browser
 * is idle: the full snapshot (the costly part) then runs after load instead of inside the
 * visitor's first input. The held page view sends nothing; the first activity releases it
 * (onActivity), a page only loaded forgets it.
 */
function planHold(): void {
  cancelHold();
  if (state.holds >= MAX_HOLDS) return;
  const run = guard(() => {
    state.cancelHold = null;
    if (!state.waiting || state.view || state.away || !mayRecord()) return;
    state.holds++;
    startView(null);
    if (state.view) state.holdTimer = setTimeout(guard(renewHold), HOLD_MAX_MS);
  });
  const w = window as unknown as {
    requestIdleCallback?: (cb: () => void, options: { timeout: number }) => number;
    cancelIdleCallback?: (handle: number) => void;
  };
  if (typeof w.requestIdleCallback === 'function' && typeof w.cancelIdleCallback === 'function') {
    const handle = w.requestIdleCallback(run, { timeout: HOLD_IDLE_TIMEOUT_MS });
    const cancel = w.cancelIdleCallback;
    state.cancelHold = () => cancel(handle);
  } else {
    const handle = setTimeout(run, 50);
    state.cancelHold = () => clearTimeout(handle);
  }
}

function cancelHold(): void {
  if (state.cancelHold) state.cancelHold();
  state.cancelHold = null;
  clearTimeout(state.holdTimer);
  state.holdTimer = undefined;
}

/** The hold grew too old or too large while the visitor did nothing: take the page again. */
function renewHold(): void {
  const view = state.view;
  if (!view || !view.held) return;
  cancelHold();
  stopRecorder();
  view.discard();
  state.view = null;
  planHold();
}

/** The site's settings and the page's own calls allow recording this page right now. */
function mayRecord(): boolean {
  if (!state.configured || state.refused || state.pageDisabled) return false;
  if (readFlag(VISITOR_EXCLUDED_KEY)) return false;
  const consent = state.consent !== null ? state.consent : readFlag(CONSENT_KEY);
  return privacyGate(state.config.privacy, consent);
}

/** A command changed what may be recorded: stop now, or start if we were held back. */
function reconsider(): void {
  if (!state.configured || state.refused || state.away) return;
  if (!mayRecord()) {
    state.waiting = false;
    stopTimers();
    stopRecorder();
    // Events not sent yet are dropped: the page asked for nothing more to be recorded.
    if (state.view) state.view.discard();
    state.view = null;
    state.parentOrigin = '';
  } else if (!state.view && !state.waiting && !state.parentOrigin) {
    begin();
  }
}

function onActivity(event: Event): void {
  if (!event.isTrusted || state.refused || state.away) return; // synthetic events are not the visitor
  if (state.parentOrigin) return tellParent();
  activity();
}

/** The visitor was active on this page, or in a frame it records. */
function activity(): void {
  if (!state.view && !state.waiting) return; // not recording this page
  const now = Date.now();
  if (state.waiting) {
    state.waiting = false;
    state.lastActivityWrite = now;
    cancelHold();
    const view = state.view;
    if (!view || !view.held) {
      startView(touchSession(now, state.config.sessionTimeoutMs).id);
      return;
    }
    // Recorded ahead: nothing to snapshot, only send what is there, after the next paint (the
    // frame that answers this input waits for none of it). Leaving, hiding the tab or joining
    // a page above releases it at once (releaseNow); stopping cancels it.
    const release = (): void => {
      if (state.release !== release) return; // stopped meanwhile (stopTimers)
      state.release = null;
      if (state.view !== view || !mayRecord()) return;
      view.release(touchSession(now, state.config.sessionTimeoutMs).id);
      startTimers();
      scheduleFirstBatch(view, FIRST_BATCH_DELAY_MS);
    };
    state.release = release;
    afterNextPaint(guard(release));
    return;
  }
  if (now - state.lastActivityWrite < ACTIVITY_WRITE_MS) return;
  state.lastActivityWrite = now;
  const session = touchSession(now, state.config.sessionTimeoutMs);
  // The session timed out (or another tab opened a new one): the page view moves to the new session.
  if (state.view && state.view.sessionId !== session.id) {
    drainEvents();
    state.view.end();
    startView(session.id);
  }
}

/** The page view's events waiting for the next paint, masked and added now. */
function drainEvents(): void {
  if (state.drain) state.drain();
}

/** The page view the visitor's first activity releases, released now. */
function releaseNow(): void {
  if (state.release) state.release();
}

function onPageHide(): void {
  releaseNow();
  finishTyping();
  drainEvents();
  state.away = true;
  state.waiting = false;
  stopTimers();
  const view = state.view;
  state.view = null;
  stopRecorder();
  if (view) view.leave();
}

/**
 * A trusted `input` event starts its way down (window, capturing, before rrweb's listener on
 * the document): the values rrweb reads until it is back up at the window are being typed.
 * A microtask would end it too early (one runs after each listener), and a page that stops
 * the event on its way is covered by the timer.
 */
function onTyping(event: Event): void {
  if (!event.isTrusted) return;
  state.typing = true;
  setTimeout(typed, 0);
}

function typed(): void {
  state.typing = false;
}

function onPageShow(event: Event): void {
  // A restore from the back/forward cache is a new page view.
  if (!(event as PageTransitionEvent).persisted || state.refused) return;
  state.away = false;
  state.restarts = 0;
  state.parentOrigin = ''; // asked again (begin)
  begin();
}

function onVisibilityChange(): void {
  if (document.visibilityState === 'hidden' && state.view) {
    releaseNow();
    drainEvents();
    state.view.flush();
  }
}

// ---- frames of another origin (crossframe.ts) --------------------------------

function onMessage(event: MessageEvent): void {
  const message = frameMessage(event.data);
  if (!message || !state.configured || state.refused || state.away) return;
  if (message.type === RECORD && event.source === window.parent && window.parent !== window) {
    // The page above records, and is of this site: join its recording.
    if (message.siteKey === state.siteKey && underOtherOrigin()) joinParent(event.origin);
    return;
  }
  // A frame of this site: one that asked, or one that answers the invitation of startView (its
  // ask may have come before this page listened, while its config was on its way).
  if (!isOwnFrame(event.source) || message.siteKey !== state.siteKey) return;
  if (message.type === ASK) {
    // Recording (or holding) now: invite it; otherwise the invitation comes with startView.
    if (state.view && !state.parentOrigin) event.source.postMessage({ type: RECORD, siteKey: state.siteKey }, event.origin);
  } else if (message.type === ACTIVITY) {
    if (state.stopEarlyWatch && !state.earlyActivityAt) state.earlyActivityAt = Date.now();
    activity();
  } else if (message.type === ERROR) {
    frameError(message.error);
  }
}

/** Passes the visitor's activity in this frame up to the page that records it (once a second at most). */
function tellParent(): void {
  const now = Date.now();
  if (now - state.lastFrameActivity < 1000) return;
  state.lastFrameActivity = now;
  window.parent.postMessage({ type: ACTIVITY, siteKey: state.siteKey }, state.parentOrigin);
}

/**
 * The page above (of `origin`, this site) records: this page's own recording, held or not,
 * stops, and rrweb records the page again from its full snapshot, its events going up to that
 * page, whose rrweb places them inside this frame. Called again, it starts over (the page
 * above started a new recording).
 */
function joinParent(origin: string): void {
  if (!mayRecord()) return;
  releaseNow();
  drainEvents();
  state.parentOrigin = origin;
  state.waiting = false;
  cancelHold();
  stopTimers();
  stopRecorder();
  const acted = !!state.view && !state.view.held;
  if (state.view) {
    if (acted) state.view.end(); // the visitor acted here first: that part stays its own page view
    else state.view.discard();
    state.view = null;
  }
  state.masks = new PageMaskState();
  const rules = state.config.record;
  // …and is active on the page above too, which may still hold its own (what this page sends
  // up, its errors included, would be dropped there as if nobody had come).
  if (acted) {
    state.lastFrameActivity = 0;
    tellParent();
  }
  const emit = (event: { type: number; data?: unknown }, isCheckout?: boolean): void => {
    try {
      if (state.parentOrigin !== origin) return;
      if (insideIgnoredEvents(event)) return;
      scrubEvent(event, rules, state.masks, true);
      // rrweb's own message shape: the page's rrweb (recordCrossOriginIframes) takes it.
      window.parent.postMessage({ type: 'rrweb', event, origin: location.origin, isCheckout }, origin);
    } catch {
      // an event that cannot be posted is dropped
    }
  };
  state.emit = emit;
  state.drain = null;
  const stop = record({ ...recordOptions(rules), emit });
  if (!stop) {
    state.parentOrigin = '';
    return;
  }
  state.stopRecording = withCanvases(stop, () => state.parentOrigin === origin, emit);
}

// ---- page views & rrweb -----------------------------------------------------

/**
 * Starts a new page view: new page_id, seq 0, and a new rrweb recording (Meta + FullSnapshot).
 * Without a session it is held: recorded, kept, not sent (planHold).
 */
function startView(sessionId: string | null, firstBatchDelay = FIRST_BATCH_DELAY_MS): void {
  drainEvents(); // the page view before ends with all it recorded
  stopRecorder();
  let offered = false;
  const view = new PageView(uuid(), {
    ingestUrl: `${state.host}/api/v1/ingest`,
    siteKey: state.siteKey,
    visitorId: visitorId(),
    sessionId,
    batchMaxBytes: state.config.batchMaxBytes,
    page: maskedPageInfo,
    onSent: (watched) => {
      state.lastSentAt = Date.now();
      setWatched(!!watched);
      // Once the server knows the page view (its addresses are in the recording): copies.
      if (offered || !state.config.offerCopies) return;
      offered = true;
      const target = { host: state.host, siteKey: state.siteKey, pageId: view.id, current: () => state.view === view };
      setTimeout(() => offerCopies(target).catch(() => undefined), COPIES_AFTER_MS);
    },
    onRefused: refuse,
    onEnded: restartView,
    visitor: pendingVisitor,
    onVisitorSettled: visitorSettled,
    onVisitorRefused: visitorRefused,
  });
  state.view = view;
  state.errorsInView = 0;
  state.siteEventsInView = 0;
  state.masks = new PageMaskState();
  const rules = state.config.record;
  const addToView = (event: { type: number; data?: unknown; timestamp?: number }): void => {
    try {
      if (state.view !== view) return;
      // rrweb masked text and inputs already (the functions below); this closes its gaps:
      // attributes (title, alt, placeholder, aria-label, value…), links, the page address.
      scrubEvent(event, rules, state.masks, true);
      view.add(JSON.stringify(event));
      if (event.type === FULL_SNAPSHOT || addsNodes(event)) reportFrames();
      if (view.held) {
        if (view.pendingBytes > HOLD_MAX_BYTES) setTimeout(guard(renewHold), 0);
        return;
      }
      // The full snapshot (taken once the DOM is ready) opens the page
      // view: send it soon, so the server knows the visitor is here.
      if (event.type === FULL_SNAPSHOT) scheduleFirstBatch(view, firstBatchDelay);
    } catch {
      // an event that cannot be serialised is dropped
    }
  };
  // rrweb's callback only queues. Footage's own work on each event (masking, serialising) runs
  // in a task after the browser's next paint: the frame that answers the visitor's input waits
  // for rrweb alone, and the full snapshot is masked in a task of its own, after rrweb's (the
  // longest the recorder gives the page). Events stay in order. Whatever releases, sends or
  // ends the page view drains them first (drainEvents).
  // (An event made while draining, the frames' addresses, joins the end of the queue.)
  const waiting: { type: number; data?: unknown; timestamp?: number }[] = [];
  const drain = (): void => {
    for (let i = 0; i < waiting.length; i++) addToView(waiting[i]);
    waiting.length = 0;
  };
  const onEvent = (event: { type: number; data?: unknown; timestamp?: number }): void => {
    if (state.view !== view) return;
    // Read from the page now: the node may be gone by the time the event is drained.
    if (insideIgnoredEvents(event)) return;
    if (!waiting.length) afterNextPaint(guard(drain));
    waiting.push(event);
  };
  state.drain = drain;
  // Where frames of another origin lead (crossframe.ts: rrweb keeps it only for frames loaded
  // when it records them), once per frame and page view.
  const reported = new WeakSet<HTMLIFrameElement>();
  const reportFrames = (): void => {
    const attributes = frameAddresses(reported, (frame) => record.mirror.getId(frame));
    if (attributes.length) {
      onEvent({ type: EVENT_INCREMENTAL, data: { source: MUTATION, texts: [], attributes, removes: [], adds: [] }, timestamp: Date.now() });
    }
  };
  state.emit = onEvent;
  const stop = record({
    ...recordOptions(rules),
    emit: onEvent,
    // Frames of another origin whose page has this site's snippet send their events up. Only
    // at the top: in a frame, rrweb would then post this page's own events to the page above
    // instead of emitting them (and record nothing under a same-origin page).
    recordCrossOriginIframes: window.parent === window,
  });
  if (!stop) {
    view.discard();
    state.view = null;
    return;
  }
  // Nothing is copied for a page view held ahead: the first pictures come when it is released.
  state.stopRecording = withCanvases(stop, () => state.view === view && !view.held, onEvent);
  if (!view.held) startTimers();
  inviteFrames(state.siteKey);
}

/** Whether an rrweb event adds nodes to the page. */
function addsNodes(event: { type: number; data?: unknown }): boolean {
  const data = event.data as { source?: unknown; adds?: unknown } | undefined;
  return event.type === EVENT_INCREMENTAL && !!data && data.source === MUTATION && Array.isArray(data.adds) && data.adds.length > 0;
}

/** rrweb's recording options, masked by the site's rules (everything but `emit`). */
function recordOptions(rules: MaskRules) {
  return {
    // Every kind of field goes through maskInputFn, which decides (hidden ones too).
    maskAllInputs: false,
    maskInputOptions: ALL_INPUTS,
    maskInputFn: (text: string, element: HTMLElement) => typedValue(text, element, rules),
    // Every text node goes through maskTextFn: numbers and e-mails, typed text in
    // contenteditable areas, and whatever sits inside data-recording-ignore="mask".
    maskTextSelector: '*',
    maskTextFn: (text: string, element: HTMLElement | null) => maskPageText(text, element, rules),
    blockSelector: '[data-recording-block]',
    ignoreSelector: `${IGNORE_EVENTS}, ${IGNORE_EVENTS} *`,
    slimDOMOptions: {
      script: true,
      comment: true,
      headFavicon: true,
      headWhitespace: true,
      headMetaSocial: true,
      headMetaRobots: true,
      headMetaHttpEquiv: true,
      headMetaVerification: true,
      headMetaAuthorship: true,
      headMetaDescKeywords: true,
    },
    // Typing is recorded key by key (rrweb's 'input' events, masked by maskInputFn), so the
    // replay shows the text growing and a field never left still shows what was typed.
    sampling: { mousemove: 50, scroll: 150, media: 800 },
    recordCanvas: false,
    collectFonts: false,
    inlineImages: false,
    // rrweb's own failures are ours to swallow, never the host page's.
    errorHandler: () => true,
  };
}

/** `stop` of an rrweb recording, and canvases copied beside it when the site records them. */
function withCanvases(stop: () => void, active: () => boolean, emit: (event: { type: number; data?: unknown }) => void): () => void {
  const fps = state.config.canvasFps;
  if (!(fps > 0)) return stop;
  const stopCanvases = captureCanvases(document, {
    fps,
    idOf: (canvas) => record.mirror.getId(canvas),
    // Blocked areas show an empty box; masked areas never show what is drawn in them.
    excluded: `[data-recording-block], ${IGNORE_MASK}, ${IGNORE_EVENTS}`,
    active,
    emit: guard(emit),
  });
  return () => {
    stopCanvases();
    stop();
  };
}

// ---- masking -----------------------------------------------------------------

/** Input types rrweb knows, plus `hidden`: their values are site data, never shown, often ids. */
const ALL_INPUTS = {
  color: true, date: true, 'datetime-local': true, email: true, month: true, number: true,
  range: true, search: true, tel: true, text: true, time: true, url: true, week: true,
  textarea: true, select: true, password: true, hidden: true,
} as Record<string, boolean>;

/**
 * A field's value as recorded. While the visitor types (an `input` event), the word being typed
 * is recorded as `*`s until it is complete (a space or the field's `change`): a half-typed
 * e-mail address or number is not yet recognisable as one, so it must not be recorded as
 * plain text. The whole value comes with the field's `change` (rrweb records it) or, for a
 * field never left, when the page goes (finishTyping). An e-mail field's value is masked
 * whole unless the site records e-mail addresses.
 */
function typedValue(text: string, element: HTMLElement | null, rules: MaskRules): string {
  if (!rules.emails && element && (element as HTMLInputElement).type === 'email') return maskAll(text);
  const sensitive = isSensitive(element);
  if (!state.typing && element) state.typedTail.delete(element); // the whole value, recorded
  if (!state.typing || sensitive || !rules.forms || !isTextField(element)) return maskValue(text, rules, sensitive);
  const cut = Math.max(text.lastIndexOf(' '), text.lastIndexOf('\n'), text.lastIndexOf('\t')) + 1;
  if (cut === text.length) return maskValue(text, rules, false);
  if (element) state.typedTail.add(element);
  return maskValue(text.slice(0, cut), rules, false) + maskAll(text.slice(cut));
}

/** Where words are typed: a textarea or a text-like input (not a choice, a date or a colour). */
const TEXT_INPUTS = new Set(['', 'text', 'search', 'url', 'tel']);
function isTextField(element: HTMLElement | null): boolean {
  if (!element) return false;
  if (element.localName === 'textarea') return true;
  return element.localName === 'input' && TEXT_INPUTS.has(((element as HTMLInputElement).getAttribute('type') || '').toLowerCase());
}

/** The page goes while a field shows a word still being typed: its whole value, recorded now. */
function finishTyping(): void {
  const view = state.view;
  const emit = state.emit;
  const field = document.activeElement as HTMLInputElement | null;
  // (a page recorded by the page above sends its events there: it has no page view)
  if (!state.parentOrigin && (!view || view.held)) return;
  if (!emit || !field || !state.typedTail.has(field)) return;
  const id = record.mirror.getId(field);
  if (!(id > 0) || typeof field.value !== 'string') return;
  emit({
    type: EVENT_INCREMENTAL,
    data: { source: SOURCE_INPUT, text: typedValue(field.value, field, state.config.record), isChecked: false, id },
    timestamp: Date.now(),
  });
}

/** Fields whose value is masked whatever the settings: passwords and ignore="mask" areas. */
function isSensitive(element: HTMLElement | null): boolean {
  if (!element) return true;
  try {
    const type = ((element as HTMLInputElement).type || '').toLowerCase();
    return type === 'password' || element.hasAttribute('data-rr-is-password') || !!element.closest(IGNORE_MASK);
  } catch {
    return true;
  }
}

/** What a document's text may hold besides plain page text (bits): masked areas, design mode. */
const HAS_AREAS = 1;
const DESIGN_MODE = 2;
/**
 * A text in a masked area (or in a document in design mode) is masked as typed or hidden text,
 * not as page text. rrweb serialises a snapshot (or a batch of changes) in one task, in which
 * the page cannot change. A change brings a few texts: each looks up its own tree
 * (`closest`). A snapshot brings thousands: past the first few, the document is asked once
 * whether it has any such area at all (most pages have none), and the texts look up the tree
 * only when it has.
 */
const FEW_TEXTS = 16;
const documentsAsked = new Map<Document, number>();
let textsInTask = 0;
function maskedArea(element: HTMLElement): Element | Document | null {
  const doc = element.ownerDocument;
  let bits = documentsAsked.get(doc);
  if (bits === undefined) {
    if (textsInTask++ === 0) {
      Promise.resolve().then(() => {
        documentsAsked.clear();
        textsInTask = 0;
      });
    }
    if (textsInTask <= FEW_TEXTS) return element.closest(MASKED_AREAS) || (doc.designMode === 'on' ? doc : null);
    bits = (doc.querySelector(MASKED_AREAS) !== null ? HAS_AREAS : 0) | (doc.designMode === 'on' ? DESIGN_MODE : 0);
    documentsAsked.set(doc, bits);
  }
  if (!bits) return null;
  return (bits & HAS_AREAS ? element.closest(MASKED_AREAS) : null) || (bits & DESIGN_MODE ? doc : null);
}

function maskPageText(text: string, element: HTMLElement | null, rules: MaskRules): string {
  try {
    const area = element ? maskedArea(element) : null;
    if (area) {
      if (area.nodeType === Node.ELEMENT_NODE && (area as Element).closest(IGNORE_MASK)) return maskValue(text, rules, true);
      // Text typed into an editable area or a textarea is typed text, masked like a field; a
      // whole document in design mode is one editable area.
      return maskValue(text, rules, false);
    }
  } catch {
    return maskValue(text, rules, true);
  }
  return maskText(text, rules);
}

function maskedPageInfo(): PageInfo {
  const page = pageInfo();
  const rules = state.config.record;
  return { url: scrubUrl(page.url, rules), title: maskText(page.title, rules), referrer: scrubUrl(page.referrer, rules) };
}

/** Clicks, typing, scrolling and moves inside data-recording-ignore="events" are not recorded. */
function insideIgnoredEvents(event: { type: number; data?: unknown }): boolean {
  if (event.type !== EVENT_INCREMENTAL) return false;
  const data = event.data as { source?: number; id?: number; positions?: { id?: number }[] };
  switch (data.source) {
    case SOURCE_MOUSE_INTERACTION:
    case SOURCE_SCROLL:
    case SOURCE_INPUT:
      return ignoredNode(data.id);
    case SOURCE_MOUSE_MOVE:
    case SOURCE_TOUCH_MOVE:
    case SOURCE_DRAG:
      if (Array.isArray(data.positions)) data.positions = data.positions.filter((p) => !ignoredNode(p.id));
      return !data.positions || data.positions.length === 0;
    default:
      return false;
  }
}

function ignoredNode(id: number | undefined): boolean {
  if (typeof id !== 'number') return false;
  const node = record.mirror.getNode(id) as Node | null;
  const element = node && (node.nodeType === 1 ? (node as Element) : node.parentElement);
  return !!element && !!element.closest(IGNORE_EVENTS);
}

function scheduleFirstBatch(view: PageView, delay: number): void {
  clearTimeout(state.firstBatchTimer);
  state.firstBatchTimer = setTimeout(
    guard(() => {
      drainEvents();
      view.flush();
    }),
    delay,
  );
}

/**
 * 409: the server finished the recording this page view belonged to. When it ended it at its
 * size or duration cap (`limitReached`), the rest of the visit is a new recording: a new
 * session. That restart is not counted, since the server took this recording's batches.
 */
function restartView(ended: PageView, limitReached = false): void {
  if (state.view !== ended || state.away || state.refused) return;
  if (limitReached) {
    startView(newSession(Date.now()).id);
    return;
  }
  if (++state.restarts > MAX_RESTARTS) {
    refuse();
    return;
  }
  startView(ended.sessionId);
}

/** 403 / 404: stop everything on this page. */
function refuse(): void {
  state.refused = true;
  state.waiting = false;
  stopTimers();
  stopRecorder();
  if (state.view) state.view.discard();
  state.view = null;
}

function stopRecorder(): void {
  const stop = state.stopRecording;
  state.stopRecording = null;
  if (stop) {
    try {
      stop();
    } catch {
      // already stopped
    }
  }
}

// ---- timers: batches & heartbeat --------------------------------------------

function startTimers(): void {
  if (state.flushTimer === undefined) {
    state.flushTimer = setInterval(
      guard(() => {
        drainEvents();
        if (state.view) state.view.flush();
      }),
      state.watched ? WATCHED_INTERVAL_MS : state.config.batchIntervalMs,
    );
  }
  if (state.heartbeatTimer === undefined) {
    state.heartbeatTimer = setInterval(guard(heartbeat), state.config.heartbeatIntervalMs);
  }
}

function stopTimers(): void {
  cancelHold();
  state.release = null;
  clearInterval(state.flushTimer);
  clearInterval(state.heartbeatTimer);
  clearTimeout(state.firstBatchTimer);
  state.flushTimer = state.heartbeatTimer = state.firstBatchTimer = undefined;
}

/** While a dashboard user watches the visitor live, batches go every second; after, as usual. */
function setWatched(watched: boolean): void {
  if (watched === state.watched) return;
  state.watched = watched;
  if (state.flushTimer === undefined) return;
  clearInterval(state.flushTimer);
  state.flushTimer = undefined;
  startTimers();
}

/** Tells the server the visitor is still on a page where nothing happens. */
function heartbeat(): void {
  const view = state.view;
  // Only for a page view the server knows (its first batch arrived).
  if (!view || !view.delivered) return;
  // A batch sent recently said as much already.
  if (Date.now() - state.lastSentAt < state.config.heartbeatIntervalMs) return;
  const body = JSON.stringify({
    site_key: state.siteKey,
    visitor_id: visitorId(),
    session_id: view.sessionId,
    page_id: view.id,
  });
  void postForAnswer(`${state.host}/api/v1/heartbeat`, body, false).then(
    guard(({ status, watched }: Answer) => {
      if (state.view !== view) return;
      if (status === 204) setWatched(!!watched);
      if (status === 403 || status === 404) refuse();
      else if (status === 409) {
        view.discard();
        restartView(view);
      }
    }),
  );
}

// ---- visitor identity & custom events ---------------------------------------

interface Identity {
  id?: string;
  name?: string;
  email?: string;
  /** A null-prototype object: a key such as "__proto__" stays a plain key. */
  variables: Record<string, { label: string; value: Scalar }>;
}

/**
 * Takes what the page said about the visitor: each valid field replaces the one before,
 * variables are merged by key. Invalid values are ignored, one by one. A change is sent with
 * the next batch (and again until a batch carrying it was stored).
 */
function identify(given: { id?: unknown; name?: unknown; email?: unknown; variables?: unknown }): void {
  const now = state.identity;
  const next: Identity = { ...now, variables: Object.assign(Object.create(null), now.variables) };
  const id = typeof given.id === 'number' && isFinite(given.id) ? String(given.id) : given.id;
  const fields: ['id' | 'name' | 'email', unknown][] = [['id', id], ['name', given.name], ['email', given.email]];
  for (const [field, value] of fields) {
    const text = typeof value === 'string' ? cap(value.trim(), MAX_IDENTITY_CHARS) : '';
    if (text) next[field] = text;
  }
  if (isPlainObject(given.variables)) {
    let count = Object.keys(next.variables).length;
    for (const key of Object.keys(given.variables)) {
      const name = cap(key.trim(), MAX_KEY_CHARS);
      const variable = toVariable(name, given.variables[key]);
      if (!name || !variable) continue;
      // Past the limit, known variables may still change; new ones are ignored.
      const known = Object.prototype.hasOwnProperty.call(next.variables, name);
      if (!known && count >= MAX_VARIABLES) continue;
      if (!known) count++;
      next.variables[name] = variable;
    }
  }
  if (JSON.stringify(visitorBody(next)) === JSON.stringify(visitorBody(now))) return;
  state.identity = next;
  state.identityVersion++;
}

/** `{label, value}` or a bare value (labelled with its key); null when the value is not usable. */
function toVariable(key: string, raw: unknown): { label: string; value: Scalar } | null {
  let label = key;
  let value = raw;
  if (isPlainObject(raw)) {
    if (typeof raw.label === 'string' && raw.label.trim()) label = raw.label.trim();
    value = raw.value;
  }
  const scalar = toScalar(value, MAX_VALUE_CHARS);
  return scalar === null ? null : { label: cap(label, MAX_LABEL_CHARS), value: scalar };
}

function toScalar(value: unknown, maxChars: number): Scalar | null {
  if (typeof value === 'string') return cap(value, maxChars);
  if (typeof value === 'number') return isFinite(value) ? value : null; // NaN is not JSON
  if (typeof value === 'boolean') return value;
  return null;
}

function visitorBody(identity: Identity): VisitorBody {
  const body: VisitorBody = {};
  if (identity.id) body.id = identity.id;
  if (identity.name) body.name = identity.name;
  if (identity.email) body.email = identity.email;
  if (Object.keys(identity.variables).length) body.variables = identity.variables;
  return body;
}

/** For the page view: who the visitor is, while no batch carrying it was stored yet. */
function pendingVisitor(): PendingVisitor | null {
  if (state.identityVersion <= state.identitySettled) return null;
  return { body: visitorBody(state.identity), version: state.identityVersion };
}

function visitorSettled(version: number): void {
  state.identitySettled = Math.max(state.identitySettled, version);
}

/**
 * A batch carrying this version was refused as malformed. The cause may have been anything
 * in it, so the identity rides along once more; refused twice, it is given up, so that a value
 * the server cannot take never costs every later batch its events.
 */
function visitorRefused(version: number): void {
  if (state.identityRefused === version) visitorSettled(version);
  else state.identityRefused = version;
}

/** footage('event', name, props): a custom event in the recording, only while recording. */
function trackEvent(name: unknown, props: unknown): void {
  if (heldBack() || !state.stopRecording || state.siteEventsInView >= MAX_SITE_EVENTS_PER_VIEW) return;
  const eventName = typeof name === 'string' ? cap(name.trim(), MAX_EVENT_NAME_CHARS) : '';
  if (!eventName) return;
  const flat: Record<string, Scalar> = Object.create(null);
  let count = 0;
  if (isPlainObject(props)) {
    for (const key of Object.keys(props)) {
      if (count >= MAX_EVENT_PROPS) break;
      const value = toScalar(props[key], MAX_VALUE_CHARS);
      const prop = cap(key, MAX_KEY_CHARS);
      if (value === null || !prop) continue;
      flat[prop] = value;
      count++;
    }
  }
  state.siteEventsInView++;
  // The site's own event: masking.ts leaves what the site chose to send as it is.
  record.addCustomEvent(EVENT_TAG, { name: eventName, props: flat });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

/**
 * At most `max` UTF-16 units, with lone surrogates replaced: the server's JSON parser refuses
 * them, and a refused batch would lose its events too.
 */
function cap(text: string, max: number): string {
  const out = text.length > max ? text.slice(0, max) : text;
  if (!/[\uD800-\uDFFF]/.test(out)) return out;
  let fixed = '';
  for (let i = 0; i < out.length; i++) {
    const c = out.charCodeAt(i);
    const next = out.charCodeAt(i + 1);
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      fixed += out[i] + out[i + 1];
      i++;
    } else {
      fixed += c >= 0xd800 && c <= 0xdfff ? '\uFFFD' : out[i];
    }
  }
  return fixed;
}

// ---- JavaScript errors ------------------------------------------------------

interface ErrorPayload {
  message: string;
  source: string;
  line: number;
  column: number;
}

function onError(event: Event): void {
  const e = event as ErrorEvent;
  if (typeof e.message !== 'string') return; // not a script error
  const fromStack = locate(e.error);
  reportError({
    message: e.message,
    source: e.filename || fromStack.source,
    line: e.lineno || fromStack.line,
    column: e.colno || fromStack.column,
  });
}

function onRejection(event: Event): void {
  const reason = (event as PromiseRejectionEvent).reason as unknown;
  const text = reason instanceof Error ? `${reason.name}: ${reason.message}` : safeString(reason);
  reportError({ message: `Unhandled promise rejection: ${text}`, ...locate(reason) });
}

/** An error of this page: on its timeline, or on that of the page above that records it. */
function reportError(payload: ErrorPayload): void {
  if (state.forwardError) return state.forwardError(payload);
  if (state.parentOrigin) {
    window.parent.postMessage({ type: ERROR, siteKey: state.siteKey, error: payload }, state.parentOrigin);
    return;
  }
  addError(payload);
}

/** An error a frame this page records passed up: checked, then on this page's timeline. */
function frameError(raw: unknown): void {
  if (!raw || typeof raw !== 'object') return;
  const { message, source, line, column } = raw as Record<string, unknown>;
  if (typeof message !== 'string' || !message) return;
  const whole = (n: unknown): number => (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < 1e9 ? n : 0);
  addError({ message, source: typeof source === 'string' ? source : '', line: whole(line), column: whole(column) });
}

/** No page view, or one held ahead that no activity of the visitor released (yet). */
function heldBack(): boolean {
  return !state.view || (state.view.held && !state.release);
}

function addError(payload: ErrorPayload): void {
  if (heldBack() || !state.stopRecording || state.errorsInView >= MAX_ERRORS_PER_VIEW) return;
  state.errorsInView++;
  payload.message = cap(payload.message, 1000);
  payload.source = cap(payload.source, 1000);
  record.addCustomEvent(ERROR_TAG, payload);
}

/** Where an error was thrown, read from the first frame of its stack (when there is one). */
function locate(error: unknown): Pick<ErrorPayload, 'source' | 'line' | 'column'> {
  const stack = error && typeof (error as Error).stack === 'string' ? (error as Error).stack! : '';
  const match = /((?:https?|file|blob):[^\s()]+?):(\d+):(\d+)/.exec(stack);
  return match
    ? { source: match[1], line: Number(match[2]), column: Number(match[3]) }
    : { source: '', line: 0, column: 0 };
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// ---- helpers ----------------------------------------------------------------

/** Wraps a callback so that nothing it throws reaches the host page. */
function guard<A extends unknown[]>(fn: (...args: A) => unknown): (...args: A) => void {
  return (...args: A) => {
    try {
      fn(...args);
    } catch {
      // swallowed on purpose
    }
  };
}

try {
  install();
} catch {
  // never break the host page
}
