// player.js — the recording player of the Footage dashboard.
//
// The page has `<div id="player" data-pieces-url="…" data-events-url="…"
// data-start-ms="0">`; we fetch the index of the recording's pieces and its
// first piece (pieces.ts), show the first frame and load the other pieces in
// the background (without a pieces URL: every event at once from the events
// URL; in a downloaded recording, from
// `<script type="application/json" id="footage-events">`), replay them with
// rrweb's Replayer in a sandboxed, inert iframe (no scripts; inert.ts takes
// out of the events whatever could run or navigate), and draw our own
// controls around it. Elements anywhere on the page with `data-seek-ms` seek
// the player when clicked. The frustration signals the server found (rage and
// dead clicks, error clicks, quick backs, excessive scrolling) come as JSON in
// `data-signals` and are drawn as markers of their own.
//
// For end-to-end tests, `window.footagePlayer` exposes the player, and
// #player gets `data-state="ready"` (or "error") once it is usable, and
// `data-loaded="all"` once every piece is in.
//
// Memory: every piece loaded stays (the Replayer needs the events before a
// moment to show it); a 4-hour recording holds all its events once loaded
// (bench/RESULTS.md, "Replay start", measures the heap).

import { Replayer } from 'rrweb';
import type { eventWithTime } from 'rrweb';
import { neutralise } from './inert';
import { strangerReplayer } from './replay';
import { KeptCopies, readKept } from './kept';
import { PieceLoader, insertSorted, pieceAt, readIndex } from './pieces';
import type { PieceIndex } from './pieces';
import {
  CLICK,
  CONTEXT_MENU,
  CUSTOM,
  DBL_CLICK,
  ERROR_TAG,
  EVENT_TAG,
  FULL_SNAPSHOT,
  INACTIVE_AFTER_MS,
  META,
  SIGNALS,
  TOUCH_END,
  isActivity,
  isClick,
} from './vocabulary';
import type { SignalKind } from './vocabulary';

/** The clicks (vocabulary.ts' CLICKS) in the user's words. */
const CLICK_NAMES: Record<number, string> = {
  [CLICK]: 'Click',
  [CONTEXT_MENU]: 'Right click',
  [DBL_CLICK]: 'Double click',
  [TOUCH_END]: 'Tap',
};
const SPEEDS = [1, 2, 4, 8];
const SEEK_STEP_MS = 5000;
/** The player's keys (shown by `?`): key → what it does. */
const SHORTCUTS: Record<string, string> = {
  ' ': 'toggle',
  k: 'toggle',
  ArrowLeft: 'back',
  ArrowRight: 'ahead',
  '[': 'slower',
  ']': 'faster',
  f: 'fullscreen',
  F: 'fullscreen',
  '?': 'help',
  Escape: 'close',
  n: 'next',
  N: 'next',
  p: 'previous',
  P: 'previous',
};
const SHORTCUT_HELP: [string, string][] = [
  ['Space', 'Play or pause'],
  ['← / →', 'Back or ahead 5 seconds'],
  ['[ / ]', 'Slower or faster'],
  ['F', 'Full screen (again to leave)'],
  ['N / P', 'Next or previous recording in the list'],
  ['?', 'Show or hide these keys'],
];
const KEY_SEEK_MS = 5000;

interface RawEvent {
  type: number;
  timestamp: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data?: any;
}

export type MarkerKind = 'click' | 'page' | 'error' | 'event' | SignalKind;

/** A frustration signal as the page gives it: `at_ms` from the recording's first event. */
export interface Signal {
  kind: SignalKind;
  at_ms: number;
  /** The element's text or selector (clicks), or the page's address. */
  name: string;
  /** The clicked element's CSS selector, for the tooltip ('' when none). */
  selector: string;
}

/** Each signal's shape on the timeline (its names are in vocabulary.ts). */
const SIGNAL_ICONS: Record<SignalKind, string> = {
  rage_click: '<path d="M8 1.8 14.8 14H1.2z"/>',
  dead_click: '<circle cx="8" cy="8" r="5" fill="#fff" stroke="currentColor" stroke-width="3"/>',
  error_click: '<rect x="2" y="2" width="12" height="12" rx="2"/><path d="M7 4.5h2v5H7zm0 6h2v2H7z" fill="#fff" stroke="none"/>',
  quick_back: '<circle cx="8" cy="8" r="6.8"/><path d="M9.6 4.6 6.2 8l3.4 3.4" fill="none" stroke="#fff" stroke-width="2"/>',
  excessive_scroll: '<rect x="3.5" y="0.8" width="9" height="14.4" rx="4.5"/><path d="M5.6 6 8 3.6 10.4 6M5.6 10 8 12.4 10.4 10" fill="none" stroke="#fff" stroke-width="1.6"/>',
};

function isSignalKind(kind: unknown): kind is SignalKind {
  return typeof kind === 'string' && Object.prototype.hasOwnProperty.call(SIGNALS, kind);
}

/** The signals of `data-signals` (JSON), ignoring whatever is not one. */
export function readSignals(raw: string | undefined): Signal[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw || '[]');
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed
    .filter((s) => s && isSignalKind(s.kind) && typeof s.at_ms === 'number' && isFinite(s.at_ms))
    .map((s) => ({
      kind: s.kind,
      at_ms: Math.max(0, s.at_ms),
      name: typeof s.name === 'string' ? s.name : '',
      selector: typeof s.selector === 'string' ? s.selector : '',
    }));
}

/** "Dead click on “Add to cart” at 0:42", "Quick back from shop.example/a at 1:05". */
export function signalLabel(signal: Signal): string {
  const what = SIGNALS[signal.kind].label;
  const at = formatTime(signal.at_ms);
  if (!signal.name) return `${what} at ${at}`;
  if (signal.kind === 'quick_back') return `${what} from ${signal.name} at ${at}`;
  if (signal.kind === 'excessive_scroll') return `${what} on ${signal.name} at ${at}`;
  return `${what} on “${signal.name}” at ${at}`;
}

/** The signals as timeline markers (on the player's own clock: ms from the first event). */
export function signalMarkers(signals: Signal[]): Marker[] {
  return signals.map((s) => {
    const label = signalLabel(s);
    // What the visitor saw is the label; the selector that found it is for the curious.
    const title = s.selector && s.selector !== s.name ? `${label}\n${s.selector}` : undefined;
    return { kind: s.kind, time: s.at_ms, label, name: s.name, title };
  });
}

export interface Marker {
  kind: MarkerKind;
  /** ms from the first event. */
  time: number;
  label: string;
  /** The custom event's name (kind 'event'), or a signal's element or page. */
  name?: string;
  /** The tooltip, when it says more than the label (an event's properties). */
  title?: string;
}

/** Properties shown in an event marker's tooltip; the rest is summarised as "…". */
const TOOLTIP_PROPS = 5;

interface Span {
  start: number;
  end: number;
}

// ---- small DOM helpers ------------------------------------------------------

/** The page's link to the next or previous recording of its list, if it has one. */
function neighbour(which: 'next' | 'previous'): HTMLAnchorElement | null {
  return document.querySelector<HTMLAnchorElement>(`a[data-neighbour="${which}"]`);
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  children: (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

const ICONS = {
  play: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M8 5.14v13.72a1 1 0 0 0 1.52.85l10.6-6.86a1 1 0 0 0 0-1.7L9.52 4.29A1 1 0 0 0 8 5.14z"/></svg>',
  pause: '<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="6" y="5" width="4" height="14" rx="1"/><rect x="14" y="5" width="4" height="14" rx="1"/></svg>',
  replay: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 5V2L7 6l5 4V7a5 5 0 1 1-5 5H5a7 7 0 1 0 7-7z"/></svg>',
  error: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 15h-2v-2h2v2zm0-4h-2V7h2v6z"/></svg>',
  fullscreen: '<svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2"><path d="M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5"/></svg>',
};

function icon(name: keyof typeof ICONS): HTMLElement {
  const span = el('span', { class: 'fp-icon' });
  span.innerHTML = ICONS[name];
  return span;
}

/** 75_000 → "1:15", 3_725_000 → "1:02:05". */
export function formatTime(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

// ---- reading the events -----------------------------------------------------

/** Clicks, page changes and errors, as timeline markers. */
export function findMarkers(events: RawEvent[], start: number): Marker[] {
  const markers: Marker[] = [];
  for (const e of events) {
    const time = e.timestamp - start;
    if (isClick(e)) {
      markers.push({ kind: 'click', time, label: `${CLICK_NAMES[e.data.type]} at ${formatTime(time)}` });
    } else if (e.type === META && e.data) {
      markers.push({ kind: 'page', time, label: String(e.data.href || 'Page view') });
    } else if (e.type === CUSTOM && e.data && e.data.tag === ERROR_TAG) {
      const payload = e.data.payload || {};
      markers.push({ kind: 'error', time, label: `Error: ${String(payload.message || 'unknown error')}` });
    } else if (e.type === CUSTOM && e.data && e.data.tag === EVENT_TAG) {
      const marker = eventMarker(e.data.payload, time);
      if (marker) markers.push(marker);
    }
  }
  return markers;
}

/** footage('event', name, props) → its marker; the tooltip names the event and its properties. */
function eventMarker(payload: unknown, time: number): Marker | null {
  const p = payload as { name?: unknown; props?: unknown } | null;
  if (!p || typeof p !== 'object' || typeof p.name !== 'string' || !p.name) return null;
  const label = `Event: ${p.name}`;
  const props = p.props && typeof p.props === 'object' ? Object.entries(p.props as Record<string, unknown>) : [];
  const shown = props.slice(0, TOOLTIP_PROPS).map(([key, value]) => `${key}: ${String(value)}`);
  if (props.length > TOOLTIP_PROPS) shown.push('…');
  return { kind: 'event', time, label, name: p.name, title: shown.length ? `${label}\n${shown.join('\n')}` : label };
}

/** Stretches longer than INACTIVE_AFTER_MS without the visitor's activity. */
export function findInactive(events: RawEvent[], start: number, total: number): Span[] {
  return inactiveSpans(activityTimes(events, start), total);
}

/** When the visitor was active (ms from `start`). */
export function activityTimes(events: RawEvent[], start: number): number[] {
  const times: number[] = [];
  for (const e of events) if (isActivity(e)) times.push(e.timestamp - start);
  return times;
}

/** The gaps between activity times (in order); `end` closes the last one (null: not yet known). */
export function inactiveSpans(times: number[], end: number | null): Span[] {
  const spans: Span[] = [];
  let last = 0;
  const consider = (time: number) => {
    if (time - last > INACTIVE_AFTER_MS) spans.push({ start: last, end: time });
    last = Math.max(last, time);
  };
  for (const time of times) consider(time);
  if (end !== null) consider(end);
  return spans;
}

/** From each page view's Meta event to its FullSnapshot: the moments when the page is being rebuilt. */
export function findPageStarts(events: RawEvent[], start: number): Span[] {
  const spans: Span[] = [];
  let meta: number | null = null;
  for (const e of events) {
    if (e.type === META) meta = e.timestamp - start;
    else if (e.type === FULL_SNAPSHOT && meta !== null) {
      spans.push({ start: meta, end: e.timestamp - start });
      meta = null;
    }
  }
  return spans;
}

/** The page URL shown above the replay at `time`: the last page view started before it. */
function urlAt(markers: Marker[], time: number): string {
  let url = '';
  for (const m of markers) {
    if (m.kind !== 'page') continue;
    if (m.time > time + 1) break;
    url = m.label;
  }
  return url;
}

// ---- the player -------------------------------------------------------------

class Player {
  private replayer!: Replayer;
  private total = 0;
  /** The recording's first event's timestamp: the player's clock counts from it. */
  private first = 0;
  /** The pieces, when the recording came in pieces; else one piece of every event. */
  private index: PieceIndex | null = null;
  private loader: PieceLoader<RawEvent> | null = null;
  private readonly loaded = new Set<number>();
  /** Each loaded piece's activity times, for the inactive bands. */
  private readonly activity = new Map<number, number[]>();
  /** Playing, but waiting for the piece that holds `time`. */
  private waiting: { time: number; piece: number } | null = null;
  private seekToken = 0;
  private markers: Marker[] = [];
  private signals: Signal[] = [];
  private pageStarts: Span[] = [];
  private readonly drawn = new WeakSet<Marker>();
  /** While paused: the time asked for (the replayer sits a few ms later, see pausedOffset). */
  private pausedAt: number | null = null;
  private playing = false;
  private ended = false;
  private dragging = false;
  private speed = 1;
  private skipInactive = true;
  private dims = { width: 1280, height: 720 };
  private raf = 0;

  // elements
  private readonly frame = el('div', { class: 'fp' });
  private readonly url = el('span', { class: 'fp-url-text' });
  private readonly sizeLabel = el('span', { class: 'fp-size' });
  private readonly skipBadge = el('span', { class: 'fp-badge', hidden: '' }, ['Skipping inactivity…']);
  private readonly stage = el('div', { class: 'fp-stage' });
  private readonly screen = el('div', { class: 'fp-screen' });
  private readonly overlay = el('div', { class: 'fp-overlay' });
  private readonly controls = el('div', { class: 'fp-controls' });
  /** The keys, shown by `?` or the keyboard button. */
  private readonly help = el('div', { class: 'fp-help', role: 'dialog', 'aria-label': 'Keyboard shortcuts', hidden: '' });
  private readonly timeline = el('div', {
    class: 'fp-timeline',
    role: 'slider',
    tabindex: '0',
    'aria-label': 'Seek',
    'aria-valuemin': '0',
  });
  /** The slider and, over it but outside it (a control may not hold controls), the markers. */
  private readonly scrubber = el('div', { class: 'fp-scrubber' });
  private readonly track = el('div', { class: 'fp-track' });
  private readonly progress = el('div', { class: 'fp-progress' });
  private readonly handle = el('div', { class: 'fp-handle' });
  private readonly hoverTime = el('div', { class: 'fp-hover-time', 'aria-hidden': 'true' });
  private readonly markerLayer = el('div', { class: 'fp-markers' });
  private readonly playButton = el('button', { type: 'button', class: 'fp-btn fp-play', 'aria-label': 'Play' });
  private readonly currentLabel = el('span', { class: 'fp-current' }, ['0:00']);
  private readonly totalLabel = el('span', { class: 'fp-total' }, ['0:00']);
  private readonly skipButton = el('button', {
    type: 'button',
    class: 'fp-switch',
    role: 'switch',
    'aria-checked': 'true',
    'aria-label': 'Skip inactivity',
  });
  private readonly speedButtons: HTMLButtonElement[] = [];

  /** The copies of the page's assets kept with the recording (kept.ts). */
  private readonly kept: KeptCopies;

  constructor(private readonly root: HTMLElement) {
    this.kept = new KeptCopies(readKept(root.dataset.assets));
  }

  /** Builds the frame, loads the events and shows the first frame. */
  async load(): Promise<void> {
    this.buildFrame();
    this.setState('loading');
    this.showMessage('loading', 'Loading recording…');
    // A downloaded recording (one HTML file) carries its events in the page itself.
    const embedded = document.getElementById('footage-events');
    const url = this.root.dataset.eventsUrl;
    const piecesUrl = this.root.dataset.piecesUrl;
    if (piecesUrl && !embedded) return this.loadPieces(piecesUrl);
    if (!url && !embedded) return this.fail('This recording has no events URL.');
    let events: RawEvent[];
    try {
      let body: unknown;
      if (embedded) {
        body = JSON.parse(embedded.textContent || '[]');
      } else {
        const response = await fetch(url!, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
        if (!response.ok) return this.fail(`The recording could not be loaded (HTTP ${response.status}).`);
        body = await response.json();
      }
      events = Array.isArray(body) ? body.filter(isEvent) : [];
    } catch {
      return this.fail('The recording could not be loaded. Check your connection and reload the page.');
    }
    if (events.length < 2 || !events.some((e) => e.type === FULL_SNAPSHOT)) {
      return this.fail('This recording has no playable events');
    }
    try {
      this.start(events);
    } catch (error) {
      console.error('footage player:', error);
      this.fail('This recording could not be played.');
    }
  }

  /** The index, the piece of the first moment shown (piece 0 and, when it starts later, its
   * own), the first frame; then every other piece in the background (start()). */
  private async loadPieces(url: string): Promise<void> {
    let index: PieceIndex | null;
    let events: RawEvent[];
    let parts: [number, RawEvent[]][];
    try {
      const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (!response.ok) return this.fail(`The recording could not be loaded (HTTP ${response.status}).`);
      index = readIndex(await response.json());
      if (!index) return this.fail('This recording has no playable events');
      this.index = index;
      this.loader = new PieceLoader<RawEvent>(index);
      const startMs = Math.min(index.duration_ms, Math.max(0, Number(this.root.dataset.startMs) || 0));
      const startPiece = pieceAt(index, startMs);
      const wanted = startPiece ? [0, startPiece] : [0];
      const pieces = await Promise.all(wanted.map((n) => this.loader!.load(n)));
      for (const n of wanted) this.loaded.add(n);
      parts = wanted.map((n, i) => [n, pieces[i]]);
      events = pieces.flat();
    } catch {
      return this.fail('The recording could not be loaded. Check your connection and reload the page.');
    }
    if (events.length < 2 || !events.some((e) => e.type === FULL_SNAPSHOT)) {
      return this.fail('This recording has no playable events');
    }
    try {
      this.start(events, parts);
    } catch (error) {
      console.error('footage player:', error);
      return this.fail('This recording could not be played.');
    }
  }

  /** Loads the pieces not loaded yet: the next one after the moment shown first. */
  private async loadTheRest(): Promise<void> {
    const index = this.index!;
    let failures = 0;
    for (;;) {
      const from = pieceAt(index, this.currentTime());
      const missing = index.pieces.filter((p) => !this.loaded.has(p.n)).map((p) => p.n);
      if (!missing.length) break;
      const next = missing.find((n) => n > from) ?? missing[0];
      try {
        await this.ensure(next);
      } catch (error) {
        // A lost connection: try again a little later, then give up on the rest.
        if (++failures > 3) {
          console.error('footage player:', error);
          this.root.dataset.loaded = 'error';
          if (this.waiting) this.fail('The rest of the recording could not be loaded. Reload the page.');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 500 * failures));
      }
    }
    this.root.dataset.loaded = 'all';
  }

  /** The piece `n` loaded into the replay (once). */
  private async ensure(n: number): Promise<void> {
    if (this.loaded.has(n)) return;
    const events = await this.loader!.load(n);
    if (!this.loaded.has(n)) this.addPiece(n, events);
  }

  /**
   * A piece into the Replayer. rrweb's `addEvent` plays an event earlier than the moment it
   * started playing from at once, so only a piece after everything loaded, while playing,
   * goes through it; any other is put into the Replayer's event list in its place, and the
   * next play or seek uses it (a piece ahead of the playing moment restarts the play there).
   */
  private addPiece(n: number, events: RawEvent[]): void {
    this.loaded.add(n);
    neutralise(events, location.href, this.kept);
    this.note(n, events);
    const list = (this.replayer as unknown as { service: { state: { context: { events: RawEvent[] } } } }).service
      .state.context.events;
    const now = this.first + this.currentTime();
    const ahead = events.length > 0 && events[0].timestamp >= now;
    if (this.playing && !this.waiting && ahead) {
      if (events[0].timestamp >= list[list.length - 1].timestamp) {
        for (const e of events) this.replayer.addEvent(e as unknown as eventWithTime);
      } else {
        insertSorted(list, events);
        this.replayer.play(this.currentTime());
      }
    } else {
      insertSorted(list, events);
    }
    this.drawTimeline();
    if (this.waiting && this.loaded.has(this.waiting.piece)) {
      const time = this.waiting.time;
      this.waiting = null;
      this.hideOverlay();
      this.replayer.play(time);
      this.loop();
    }
  }

  /** Playing has reached a piece not loaded yet: wait for it (the loader is on its way). */
  private waitFor(time: number, piece: number): void {
    this.replayer.pause();
    this.waiting = { time, piece };
    this.showMessage('loading', 'Loading…');
    this.ensure(piece).catch(() => this.fail('The rest of the recording could not be loaded. Reload the page.'));
  }

  /** Markers, page starts and activity of a piece's events. */
  private note(n: number, events: RawEvent[]): void {
    for (const m of findMarkers(events, this.first)) this.markers.push(m);
    this.markers.sort((a, b) => a.time - b.time);
    for (const span of findPageStarts(events, this.first)) this.pageStarts.push(span);
    this.pageStarts.sort((a, b) => a.start - b.start);
    this.activity.set(n, activityTimes(events, this.first));
  }

  private pieceCount(): number {
    return this.index ? this.index.pieces.length : 1;
  }

  // ---- public API (window.footagePlayer) ----

  play(): void {
    const from = this.ended || this.currentTime() >= this.total ? 0 : this.currentTime();
    this.ended = false;
    this.pausedAt = null;
    this.playing = true;
    this.hideOverlay();
    const piece = this.index ? pieceAt(this.index, from) : 0;
    if (!this.loaded.has(piece)) this.waitFor(from, piece);
    else this.replayer.play(from);
    this.loop();
    this.render();
  }

  pause(): void {
    if (this.waiting) {
      this.pausedAt = this.waiting.time;
      this.waiting = null;
      this.hideOverlay();
    } else if (this.playing) {
      this.replayer.pause();
      this.pausedAt = this.currentTime();
    }
    this.playing = false;
    this.render();
  }

  /** Moves to `ms` from the recording's start; keeps playing if it was. A moment in a piece
   * not loaded yet is shown once that piece is in (loaded before any other). */
  seek(ms: number): void {
    const time = Math.min(this.total, Math.max(0, Number(ms) || 0));
    const token = ++this.seekToken;
    const piece = this.index ? pieceAt(this.index, time) : 0;
    this.waiting = null;
    if (!this.loaded.has(piece)) {
      this.pausedAt = time;
      if (this.playing) this.replayer.pause();
      this.showMessage('loading', 'Loading…');
      this.render(time);
      this.ensure(piece).then(
        () => {
          if (token === this.seekToken) this.seekNow(time);
        },
        () => this.fail('This part of the recording could not be loaded. Reload the page.'),
      );
      return;
    }
    this.seekNow(time);
  }

  private seekNow(time: number): void {
    this.ended = false;
    this.hideOverlay();
    if (this.playing) {
      this.replayer.play(time);
      this.loop();
    } else {
      this.replayer.pause(this.pausedOffset(time));
      this.pausedAt = time;
    }
    this.render(time);
  }

  /**
   * Where to pause to show the frame at `time`. A paused Replayer applies only
   * the events strictly before its offset, so we land 1 ms later; and when
   * `time` is the start of a page view (its Meta event), we land after that
   * page's FullSnapshot so the new page is shown, not the previous one.
   */
  private pausedOffset(time: number): number {
    for (const span of this.pageStarts) {
      if (time >= span.start && time <= span.end) time = span.end;
    }
    // Past the end too: the last event is at `total`, and a seek to the end shows it.
    return time + 1;
  }

  currentTime(): number {
    if (this.ended) return this.total;
    if (this.waiting) return this.waiting.time;
    if (!this.playing && this.pausedAt !== null) return this.pausedAt;
    return Math.min(this.total, Math.max(0, this.replayer.getCurrentTime()));
  }

  api() {
    return {
      replayer: this.replayer,
      play: () => this.play(),
      pause: () => this.pause(),
      seek: (ms: number) => this.seek(ms),
      getCurrentTime: () => this.currentTime(),
      getTotalTime: () => this.total,
      isPlaying: () => this.playing,
      markers: this.markers,
      /** Pieces loaded, of how many. */
      pieces: () => ({ loaded: this.loaded.size, count: this.pieceCount(), bytes: this.loader?.received ?? 0 }),
    };
  }

  // ---- setup ----

  /** The Replayer on the first events; `parts`: the pieces they are (one, unless in pieces). */
  private start(events: RawEvent[], parts: [number, RawEvent[]][] = [[0, events]]): void {
    const first = this.index
      ? this.index.start_timestamp
      : events.reduce((min, e) => Math.min(min, e.timestamp), Infinity);
    this.first = first;
    if (!this.index) this.loaded.add(0);
    const meta = events.find((e) => e.type === META);
    if (meta && meta.data && meta.data.width > 0 && meta.data.height > 0) {
      this.dims = { width: meta.data.width, height: meta.data.height };
    }
    this.replayer = strangerReplayer(neutralise(events, location.href, this.kept), {
      root: this.screen,
      skipInactive: this.skipInactive,
      inactivePeriodThreshold: INACTIVE_AFTER_MS,
      speed: this.speed,
    });
    this.total = Math.max(0, this.index ? this.index.duration_ms : this.replayer.getMetaData().totalTime);
    for (const m of signalMarkers(this.signals)) this.markers.push(m);
    for (const [n, part] of parts) this.note(n, part);
    this.drawTimeline();
    this.wireReplayer();
    this.rescale();

    const startMs = Number(this.root.dataset.startMs) || 0;
    this.pausedAt = Math.min(this.total, Math.max(0, startMs));
    this.replayer.pause(this.pausedOffset(this.pausedAt));
    this.render();
    (window as unknown as { footagePlayer: unknown }).footagePlayer = this.api();

    // The first frame is drawn by the Replayer asynchronously: wait for it before saying "ready".
    // Only then the other pieces: fetched and parsed earlier, they would delay that frame.
    this.whenFirstFrame(() => {
      this.showStartButton();
      this.setState('ready');
      if (this.index) void this.loadTheRest();
    });
  }

  private whenFirstFrame(done: () => void, tries = 0): void {
    const doc = this.replayer.iframe.contentDocument;
    if ((doc && doc.body) || tries > 100) {
      requestAnimationFrame(() => requestAnimationFrame(done));
      return;
    }
    setTimeout(() => this.whenFirstFrame(done, tries + 1), 30);
  }

  private wireReplayer(): void {
    this.replayer.on('resize', (payload) => {
      const d = payload as { width?: number; height?: number };
      if (d && d.width && d.height) {
        this.dims = { width: d.width, height: d.height };
        this.rescale();
      }
    });
    this.replayer.on('finish', () => {
      // The end of what is loaded, not of the recording: wait for the next piece.
      const last = this.lastLoadedTime();
      if (this.index && this.playing && last < this.total) {
        const next = this.index.pieces.find((p) => p.start_ms > last && !this.loaded.has(p.n));
        if (next) return this.waitFor(last, next.n);
      }
      this.playing = false;
      this.ended = true;
      this.pausedAt = null;
      this.skipBadge.hidden = true;
      this.render(this.total);
      this.showReplayButton();
    });
    this.replayer.on('skip-start', () => {
      this.skipBadge.hidden = false;
    });
    this.replayer.on('skip-end', () => {
      this.skipBadge.hidden = true;
    });
  }

  private buildFrame(): void {
    this.signals = readSignals(this.root.dataset.signals);
    this.root.textContent = '';
    this.root.classList.add('fp-root');
    this.root.dataset.loaded = 'partial';

    const lock = el('span', { class: 'fp-url-dot', 'aria-hidden': 'true' });
    const topBar = el('div', { class: 'fp-topbar' }, [
      el('span', { class: 'fp-dots', 'aria-hidden': 'true' }, [el('i'), el('i'), el('i')]),
      el('div', { class: 'fp-url' }, [lock, this.url]),
      this.skipBadge,
      this.sizeLabel,
    ]);

    this.stage.append(this.screen, this.overlay);
    this.stage.addEventListener('click', (e) => {
      if (e.target === this.overlay || this.screen.contains(e.target as Node)) this.toggle();
    });

    this.track.append(this.progress);
    this.timeline.append(this.track, this.handle, this.hoverTime);
    this.scrubber.append(this.timeline, this.markerLayer);
    this.wireTimeline();

    this.playButton.append(icon('play'));
    this.playButton.addEventListener('click', () => this.toggle());

    const speeds = el('div', { class: 'fp-speeds', role: 'group', 'aria-label': 'Playback speed' });
    for (const speed of SPEEDS) {
      const button = el('button', {
        type: 'button',
        class: 'fp-btn fp-speed',
        'aria-label': `Speed ${speed}×`,
        'aria-pressed': String(speed === this.speed),
      }, [`${speed}×`]);
      button.addEventListener('click', () => this.setSpeed(speed));
      this.speedButtons.push(button);
      speeds.append(button);
    }

    this.skipButton.append(el('span', { class: 'fp-switch-knob', 'aria-hidden': 'true' }));
    this.skipButton.addEventListener('click', () => this.setSkipInactive(!this.skipInactive));
    const skip = el('div', { class: 'fp-skip' }, [this.skipButton, el('span', { 'aria-hidden': 'true' }, ['Skip inactivity'])]);
    skip.lastElementChild!.addEventListener('click', () => this.setSkipInactive(!this.skipInactive));

    const time = el('span', { class: 'fp-time', 'aria-live': 'off' }, [this.currentLabel, ' / ', this.totalLabel]);
    const legend = el('div', { class: 'fp-legend', 'aria-label': 'Timeline legend' }, [
      legendItem('click', 'Clicks'),
      legendItem('page', 'Page views'),
      legendItem('error', 'Errors'),
      legendItem('event', 'Events'),
      legendItem('inactive', 'Inactive'),
    ]);

    this.controls.append(
      this.scrubber,
      el('div', { class: 'fp-row' }, [
        this.playButton,
        time,
        legend,
        el('div', { class: 'fp-spacer' }),
        skip,
        speeds,
      ]),
    );
    if (this.signals.length) {
      // Signals get a lane above the track (the handle never hides them) and a legend row.
      this.scrubber.classList.add('fp-with-signals');
      this.controls.append(
        el('div', { class: 'fp-legend fp-signal-legend', 'aria-label': 'Frustration signals on the timeline' }, [
          el('span', { class: 'fp-signal-legend-title' }, ['Frustration signals:']),
          ...signalLegend(this.signals),
          el('span', { class: 'fp-signal-legend-hint' }, ['· click a marker to jump there']),
        ]),
      );
    }
    // N and P where the page links the list's next and previous recording (the dashboard's
    // player page; not a share link or a download).
    const listed = !!document.querySelector('[data-neighbours]');
    const help = SHORTCUT_HELP.filter(([key]) => listed || key !== 'N / P');
    this.help.append(
      el('b', {}, ['Keyboard shortcuts']),
      el('dl', {}, help.flatMap(([key, what]) => [el('dt', {}, [el('kbd', {}, [key])]), el('dd', {}, [what])])),
    );
    const keys = el('button', { type: 'button', class: 'fp-btn fp-keys', 'aria-label': 'Keyboard shortcuts', title: 'Keyboard shortcuts (?)' }, ['?']);
    keys.addEventListener('click', () => this.shortcut('help'));
    const full = el('button', { type: 'button', class: 'fp-btn fp-keys', 'aria-label': 'Full screen', title: 'Full screen (F)' }, [icon('fullscreen')]);
    full.addEventListener('click', () => this.toggleFullscreen());
    this.controls.querySelector('.fp-row')?.append(full, keys);
    this.frame.append(topBar, this.stage, this.controls, this.help);
    this.root.append(this.frame);
    this.setControlsEnabled(false);

    window.addEventListener('resize', () => this.rescale());
    if (typeof ResizeObserver !== 'undefined') new ResizeObserver(() => this.rescale()).observe(this.root);
    document.addEventListener('keydown', (e) => this.onKey(e));
    document.addEventListener('click', (e) => this.onSeekLink(e));
  }

  /** The inactive bands of the loaded stretch from the start, and the markers not drawn yet. */
  private drawTimeline(): void {
    const pct = (t: number) => `${this.total ? (t / this.total) * 100 : 0}%`;
    const times: number[] = [];
    let n = 0;
    for (; this.activity.has(n); n++) for (const t of this.activity.get(n)!) times.push(t);
    for (const band of this.track.querySelectorAll('.fp-inactive')) band.remove();
    for (const span of inactiveSpans(times, n >= this.pieceCount() ? this.total : null)) {
      const band = el('div', {
        class: 'fp-inactive',
        title: `Inactive for ${formatTime(span.end - span.start)}`,
      });
      band.style.left = pct(span.start);
      band.style.width = pct(span.end - span.start);
      this.track.insertBefore(band, this.progress);
    }
    for (const marker of this.markers) {
      if (this.drawn.has(marker)) continue;
      this.drawn.add(marker);
      const signal = isSignalKind(marker.kind);
      const button = el('button', {
        type: 'button',
        class: signal ? `fp-marker fp-signal fp-signal-${marker.kind}` : `fp-marker fp-marker-${marker.kind}`,
        title: marker.title || (marker.kind === 'page' ? `Page: ${marker.label}` : marker.label),
        'aria-label': signal
          ? marker.label
          : `${marker.kind === 'page' ? `Page: ${marker.label}` : marker.label} (${formatTime(marker.time)})`,
        tabindex: '-1',
      });
      if (signal) button.append(signalIcon(marker.kind as SignalKind));
      button.style.left = pct(marker.time);
      button.addEventListener('pointerdown', (e) => e.stopPropagation());
      button.addEventListener('click', (e) => {
        e.stopPropagation();
        this.seek(marker.time);
      });
      this.markerLayer.append(button);
    }
    this.timeline.setAttribute('aria-valuemax', String(Math.round(this.total)));
    this.totalLabel.textContent = formatTime(this.total);
  }

  // ---- timeline interaction ----

  private wireTimeline(): void {
    const timeAt = (clientX: number) => {
      const rect = this.track.getBoundingClientRect();
      const ratio = rect.width ? (clientX - rect.left) / rect.width : 0;
      return Math.min(1, Math.max(0, ratio)) * this.total;
    };
    this.timeline.addEventListener('pointerdown', (e) => {
      if (!this.replayer || e.button !== 0) return;
      this.dragging = true;
      this.timeline.setPointerCapture(e.pointerId);
      this.timeline.classList.add('fp-dragging');
      this.render(timeAt(e.clientX));
      e.preventDefault();
      this.timeline.focus();
    });
    this.timeline.addEventListener('pointermove', (e) => {
      const time = timeAt(e.clientX);
      const rect = this.track.getBoundingClientRect();
      this.hoverTime.textContent = formatTime(time);
      this.hoverTime.style.left = `${Math.min(rect.width, Math.max(0, e.clientX - rect.left))}px`;
      if (this.dragging) this.render(time);
    });
    const release = (e: PointerEvent) => {
      if (!this.dragging) return;
      this.dragging = false;
      this.timeline.classList.remove('fp-dragging');
      this.seek(timeAt(e.clientX));
    };
    this.timeline.addEventListener('pointerup', release);
    this.timeline.addEventListener('pointercancel', () => {
      this.dragging = false;
      this.timeline.classList.remove('fp-dragging');
      this.render();
    });
    this.timeline.addEventListener('keydown', (e) => {
      if (!this.replayer) return;
      const keys: Record<string, () => number> = {
        ArrowLeft: () => this.currentTime() - KEY_SEEK_MS,
        ArrowRight: () => this.currentTime() + KEY_SEEK_MS,
        PageDown: () => this.currentTime() - KEY_SEEK_MS * 6,
        PageUp: () => this.currentTime() + KEY_SEEK_MS * 6,
        Home: () => 0,
        End: () => this.total,
      };
      if (!keys[e.key]) return;
      e.preventDefault();
      this.seek(keys[e.key]());
    });
  }

  // ---- keyboard & page links ----

  private onKey(e: KeyboardEvent): void {
    if (!this.replayer || e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    const target = e.target as HTMLElement | null;
    // Keys already mean something in form fields; Space and Enter on buttons and links too.
    if (target && target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]')) return;
    const onControl = !!target && !!target.closest('button, a[href]');
    const key = e.key === ' ' || e.code === 'Space' ? ' ' : e.key;
    const action = SHORTCUTS[key];
    if (!action || (key === ' ' && onControl)) return;
    if (key === 'Escape' && this.help.hidden) return;
    e.preventDefault();
    this.shortcut(action);
  }

  /** What a key of SHORTCUTS does. */
  private shortcut(action: string): void {
    if (action === 'toggle') this.toggle();
    else if (action === 'back' || action === 'ahead') {
      const step = action === 'back' ? -SEEK_STEP_MS : SEEK_STEP_MS;
      this.seek(Math.min(this.total, Math.max(0, this.currentTime() + step)));
    } else if (action === 'slower' || action === 'faster') {
      const at = SPEEDS.indexOf(this.speed) + (action === 'slower' ? -1 : 1);
      this.setSpeed(SPEEDS[Math.min(SPEEDS.length - 1, Math.max(0, at))]);
    } else if (action === 'fullscreen') this.toggleFullscreen();
    else if (action === 'help') this.help.hidden = !this.help.hidden;
    else if (action === 'close') this.help.hidden = true;
    else if (action === 'next' || action === 'previous') {
      const link = neighbour(action);
      if (link) window.location.assign(link.href);
    }
  }

  private toggleFullscreen(): void {
    if (document.fullscreenElement) void document.exitFullscreen().catch(() => undefined);
    else if (this.frame.requestFullscreen) void this.frame.requestFullscreen().catch(() => undefined);
  }

  private onSeekLink(e: MouseEvent): void {
    const target = (e.target as Element | null)?.closest?.('[data-seek-ms]');
    if (!target || this.root.contains(target)) return;
    e.preventDefault(); // they are often `<a href="#">`
    if (!this.replayer || this.root.dataset.state !== 'ready') return;
    const ms = Number(target.getAttribute('data-seek-ms'));
    if (!isFinite(ms)) return;
    this.seek(ms);
    this.play();
    const rect = this.root.getBoundingClientRect();
    if (rect.top < 0 || rect.bottom > window.innerHeight) this.root.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  }

  // ---- settings ----

  private toggle(): void {
    if (!this.replayer) return;
    if (this.playing) this.pause();
    else this.play();
  }

  private setSpeed(speed: number): void {
    this.speed = speed;
    this.replayer.setConfig({ speed });
    for (const [i, button] of this.speedButtons.entries()) {
      button.setAttribute('aria-pressed', String(SPEEDS[i] === speed));
    }
  }

  private setSkipInactive(on: boolean): void {
    this.skipInactive = on;
    this.replayer.setConfig({ skipInactive: on });
    this.skipButton.setAttribute('aria-checked', String(on));
    if (!on) this.skipBadge.hidden = true;
  }

  // ---- rendering ----

  /** Scales the recorded viewport to the container's width (never taller than most of the window). */
  private rescale(): void {
    const { width, height } = this.dims;
    const available = this.stage.clientWidth || this.root.clientWidth;
    if (!available) return;
    // The whole player in the window: the replay takes the height left above the controls and
    // timeline (1366 × 768 and 1440 × 900 laptops too), never less than 240 px.
    const stageTop = this.stage.getBoundingClientRect().top + window.scrollY;
    const below = this.root.getBoundingClientRect().bottom - this.stage.getBoundingClientRect().bottom;
    const maxHeight = Math.max(240, window.innerHeight - stageTop - Math.max(0, below) - 12);
    const scale = Math.min(available / width, maxHeight / height);
    this.stage.style.height = `${Math.round(height * scale)}px`;
    // The CSS ratio only sizes the empty stage while loading; with a height
    // set, it would widen the stage beyond its container.
    this.stage.style.aspectRatio = 'auto';
    this.screen.style.width = `${width}px`;
    this.screen.style.height = `${height}px`;
    this.screen.style.transform = `translateX(${Math.max(0, (available - width * scale) / 2)}px) scale(${scale})`;
    if (this.replayer) this.sizeLabel.textContent = `${width} × ${height}`;
  }

  /** Updates time, progress and buttons; `time` overrides the replayer's clock (while dragging). */
  private render(time?: number): void {
    if (!this.replayer) return;
    const now = time !== undefined ? time : this.currentTime();
    const ratio = this.total ? Math.min(1, now / this.total) : 0;
    this.progress.style.width = `${ratio * 100}%`;
    this.handle.style.left = `${ratio * 100}%`;
    this.currentLabel.textContent = formatTime(now);
    this.timeline.setAttribute('aria-valuenow', String(Math.round(now)));
    this.timeline.setAttribute('aria-valuetext', `${formatTime(now)} of ${formatTime(this.total)}`);
    const url = urlAt(this.markers, now);
    if (this.url.textContent !== url) {
      this.url.textContent = url;
      this.url.title = url;
    }
    const playing = this.playing;
    this.playButton.setAttribute('aria-label', playing ? 'Pause' : 'Play');
    this.playButton.replaceChildren(icon(playing ? 'pause' : 'play'));
    this.frame.classList.toggle('fp-is-playing', playing);
  }

  private lastLoadedTime(): number {
    const list = (this.replayer as unknown as { service: { state: { context: { events: RawEvent[] } } } }).service
      .state.context.events;
    return list[list.length - 1].timestamp - this.first;
  }

  /** Follows the replayer's clock while playing (and stops at a piece not loaded yet). */
  private loop(): void {
    cancelAnimationFrame(this.raf);
    const tick = () => {
      if (!this.playing) return;
      if (this.index && !this.waiting) {
        const now = this.currentTime();
        const piece = pieceAt(this.index, now);
        if (!this.loaded.has(piece)) this.waitFor(now, piece);
      }
      if (!this.dragging) this.render();
      this.raf = requestAnimationFrame(tick);
    };
    this.raf = requestAnimationFrame(tick);
  }

  private setState(state: 'loading' | 'ready' | 'error'): void {
    this.root.dataset.state = state;
    this.setControlsEnabled(state === 'ready');
  }

  private setControlsEnabled(on: boolean): void {
    for (const button of this.controls.querySelectorAll('button')) {
      if (!button.classList.contains('fp-marker')) button.disabled = !on;
    }
    this.timeline.setAttribute('aria-disabled', String(!on));
    this.timeline.tabIndex = on ? 0 : -1;
  }

  private fail(message: string): void {
    this.showMessage('error', message);
    this.setState('error');
    this.frame.classList.add('fp-has-error');
  }

  // ---- overlay: loading, error, start & replay buttons ----

  private showMessage(kind: 'loading' | 'error', text: string): void {
    const content =
      kind === 'loading'
        ? [el('span', { class: 'fp-spinner', 'aria-hidden': 'true' }), el('p', { role: 'status' }, [text])]
        : [icon('error'), el('p', { role: 'alert' }, [text])];
    this.overlay.className = `fp-overlay fp-overlay-${kind}`;
    this.overlay.replaceChildren(...content);
    this.overlay.hidden = false;
  }

  private showStartButton(): void {
    this.showBigButton('play', 'Play recording');
  }

  private showReplayButton(): void {
    this.showBigButton('replay', 'Replay');
  }

  private showBigButton(name: 'play' | 'replay', label: string): void {
    const button = el('button', { type: 'button', class: 'fp-big', 'aria-label': label }, [icon(name)]);
    button.addEventListener('click', (e) => {
      e.stopPropagation();
      this.play();
    });
    const content: Node[] = [button];
    if (name === 'replay') content.push(el('p', {}, ['Replay']));
    this.overlay.className = `fp-overlay fp-overlay-${name}`;
    this.overlay.replaceChildren(...content);
    this.overlay.hidden = false;
  }

  private hideOverlay(): void {
    this.overlay.hidden = true;
    this.overlay.replaceChildren();
  }
}

function legendItem(kind: string, label: string): HTMLElement {
  return el('span', { class: 'fp-legend-item' }, [el('i', { class: `fp-swatch fp-swatch-${kind}`, 'aria-hidden': 'true' }), label]);
}

function signalIcon(kind: SignalKind): SVGSVGElement {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('aria-hidden', 'true');
  svg.innerHTML = SIGNAL_ICONS[kind]; // our own constant markup, never the recording's
  return svg;
}

/** Legend entries for the signals this recording has, with how many of each. */
function signalLegend(signals: Signal[]): HTMLElement[] {
  const counts = new Map<SignalKind, number>();
  for (const s of signals) counts.set(s.kind, (counts.get(s.kind) || 0) + 1);
  return (Object.keys(SIGNALS) as SignalKind[])
    .filter((kind) => counts.has(kind))
    .map((kind) =>
      el('span', { class: `fp-legend-item fp-legend-signal fp-signal-${kind}` }, [
        signalIcon(kind),
        `${SIGNALS[kind].plural} (${counts.get(kind)})`,
      ]),
    );
}

function isEvent(value: unknown): value is RawEvent {
  const e = value as RawEvent;
  return !!e && typeof e === 'object' && typeof e.type === 'number' && typeof e.timestamp === 'number';
}

function boot(): void {
  const root = document.getElementById('player');
  if (!root) return;
  void new Player(root).load();
}

// A downloaded recording (events in the page) starts once the page has loaded: the replay
// iframe, made any earlier, would keep the page "loading" for good.
const waitFor = document.getElementById('footage-events') ? 'complete' : 'interactive';
if (document.readyState === 'complete' || document.readyState === waitFor) boot();
else window.addEventListener(waitFor === 'complete' ? 'load' : 'DOMContentLoaded', boot);
