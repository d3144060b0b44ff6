// live.ts — the live view of a visitor (footage/live): what their page shows now, as recorded.
//
// The server pushes Server-Sent Events (footage/live/routes.py): `start` with the current page
// from its last full snapshot, `events` with each batch the recorder stores, `state` when the
// visitor moves between pages or leaves, `waiting` (with why) while nothing is recorded.
// The replay is the player's: rrweb's Replayer in a sandboxed, inert frame, every event
// neutralised first (inert.ts), canvas pictures and unrecorded frames drawn the same way.

import type { Replayer, eventWithTime } from 'rrweb';
import { neutralise } from './inert';
import { strangerReplayer } from './replay';

/** How far behind the visitor the view plays: a batch every second arrives within it, so the
 *  visitor's moves replay at their own pace instead of in jumps. */
const LIVE_DELAY_MS = 1000;
const META = 4;

interface LiveEvent {
  type: number;
  timestamp: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data?: any;
}

const STATES: Record<string, string> = {
  on_page: 'Live: you see what the visitor sees.',
  between_pages: 'The visitor left the page. Waiting for the next one…',
  left: 'The visitor left the site. Their recording will be ready within a minute.',
  gone: 'This recording was deleted.',
};

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, children: (Node | string)[] = []): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = cls;
  node.append(...children);
  return node;
}

class LiveView {
  private readonly frame = el('div', 'fp');
  private readonly url = el('span', 'fp-url-text');
  private readonly stage = el('div', 'fp-stage live-stage');
  private readonly screen = el('div', 'fp-screen');
  private readonly overlay = el('div', 'fp-overlay');
  private replayer: Replayer | null = null;
  private dims = { width: 1280, height: 800 };
  private source: EventSource | null = null;
  /** The visitor's time the view started at, less LIVE_DELAY_MS (rrweb's live baseline). */
  private baseline = 0;
  private baselineAt = 0;
  /** Events received since the view started (for tests and the curious). */
  received = 0;
  state = 'connecting';

  constructor(
    root: HTMLElement,
    private readonly status: HTMLElement,
  ) {
    root.classList.add('fp-root');
    const top = el('div', 'fp-topbar', [
      el('span', 'fp-dots', [el('i', ''), el('i', ''), el('i', '')]),
      el('div', 'fp-url', [el('span', 'fp-url-dot'), this.url]),
    ]);
    this.stage.append(this.screen, this.overlay);
    this.frame.append(top, this.stage);
    root.append(this.frame);
    window.addEventListener('resize', () => this.rescale());
  }

  connect(streamUrl: string): void {
    const source = new EventSource(streamUrl);
    this.source = source;
    source.addEventListener('start', (e) => this.start(JSON.parse((e as MessageEvent).data)));
    source.addEventListener('events', (e) => this.add(JSON.parse((e as MessageEvent).data)));
    source.addEventListener('state', (e) => this.changed(JSON.parse((e as MessageEvent).data)));
    source.addEventListener('waiting', (e) => this.waiting(JSON.parse((e as MessageEvent).data)));
    source.addEventListener('error', () => {
      if (this.source === source && source.readyState !== EventSource.CLOSED && this.state !== 'done') {
        this.say('Connection lost. Reconnecting…');
      }
    });
  }

  private start(message: { recording_id: string; server_ms: number; skew_ms: number; events: LiveEvent[] }): void {
    // The visitor's clock: the server's now, less how far their browser's clock is behind
    // it. Events play LIVE_DELAY_MS after they happened; older ones are drawn at once.
    this.baseline = message.server_ms - message.skew_ms - LIVE_DELAY_MS;
    this.baselineAt = performance.now();
    this.startAt(neutralise(message.events, location.href));
    this.changed({ state: 'on_page' });
  }

  /** A new Replayer from a page's Meta event: only the current page view is kept in memory,
   *  however long the visitor stays (rrweb's live mode keeps every event it was given). */
  private startAt(events: LiveEvent[]): void {
    this.replayer?.destroy();
    this.screen.textContent = '';
    this.overlay.hidden = true;
    this.track(events);
    const replayer = strangerReplayer(events, { root: this.screen, liveMode: true });
    replayer.on('resize', (d) => {
      const { width, height } = d as { width: number; height: number };
      if (width > 0 && height > 0) this.dims = { width, height };
      this.rescale();
    });
    // The baseline moves on with the agent's clock: a Replayer started later starts later.
    replayer.startLive(this.baseline + (performance.now() - this.baselineAt));
    this.replayer = replayer;
    this.received += events.length;
    this.rescale();
  }

  private add(events: LiveEvent[]): void {
    if (!this.replayer) return;
    neutralise(events, location.href);
    let meta = -1;
    events.forEach((e, i) => {
      if (e.type === META) meta = i;
    });
    // A new page view (or a checkpoint) starts over from its Meta: the earlier ones go.
    if (meta >= 0) return this.startAt(events.slice(meta));
    this.track(events);
    for (const event of events) this.replayer.addEvent(event as unknown as eventWithTime);
    this.received += events.length;
  }

  /** The page's address and size from its Meta events. */
  private track(events: LiveEvent[]): void {
    for (const event of events) {
      if (event.type !== META || !event.data) continue;
      if (typeof event.data.href === 'string') {
        this.url.textContent = event.data.href;
        this.url.title = event.data.href;
      }
      if (event.data.width > 0 && event.data.height > 0) this.dims = { width: event.data.width, height: event.data.height };
    }
    this.rescale();
  }

  private changed(message: { state: string; recording_id?: string }): void {
    this.state = message.state;
    if (message.state === 'ready' && message.recording_id) {
      this.finish();
      this.status.textContent = 'The visitor left the site. ';
      const link = el('a', 'btn small', ['▶ Play the recording']);
      link.href = `/recordings/${encodeURIComponent(message.recording_id)}`;
      this.status.append(link);
      return;
    }
    if (message.state === 'gone') this.finish();
    const live = message.state === 'on_page';
    this.status.replaceChildren(...(live ? [el('span', 'live-dot'), ' '] : []), STATES[message.state] || '');
  }

  private waiting(message: { reason: string; causes?: string[] }): void {
    this.state = 'waiting';
    this.overlay.hidden = false;
    const causes = message.causes || [];
    this.overlay.replaceChildren(
      el('p', '', [message.reason]),
      ...(causes.length
        ? [el('p', '', ['It may be that:']), el('ul', 'live-causes', causes.map((c) => el('li', '', [c])))]
        : []),
    );
    this.say('Not being recorded now.');
  }

  private finish(): void {
    this.state = 'done';
    this.source?.close();
  }

  private say(text: string): void {
    this.status.textContent = text;
  }

  private rescale(): void {
    const { width, height } = this.dims;
    const available = this.stage.clientWidth;
    if (!available) return;
    const top = this.stage.getBoundingClientRect().top + window.scrollY;
    const maxHeight = Math.max(240, window.innerHeight - top - 24);
    const scale = Math.min(available / width, maxHeight / height);
    this.stage.style.height = `${Math.round(height * scale)}px`;
    this.stage.style.aspectRatio = 'auto';
    this.screen.style.width = `${width}px`;
    this.screen.style.height = `${height}px`;
    this.screen.style.transform = `translateX(${Math.max(0, (available - width * scale) / 2)}px) scale(${scale})`;
  }
}

function setup(): void {
  const root = document.getElementById('live');
  const status = document.querySelector<HTMLElement>('[data-live-status]');
  if (!root || !status || !root.dataset.streamUrl) return;
  const view = new LiveView(root, status);
  (window as unknown as { footageLive: LiveView }).footageLive = view;
  view.connect(root.dataset.streamUrl);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', setup);
else setup();
