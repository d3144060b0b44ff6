// heatmap.js — the dashboard's Heatmaps page (footage/web/templates/heatmaps.html).
//
// The server renders the numbers; this script draws them. It fetches the page as a visitor
// saw it (/api/v1/heatmaps/snapshot: a Meta and a FullSnapshot event), rebuilds it with
// rrweb's Replayer in the same sandboxed, inert frame the player uses (inert.ts cleans the
// events first), makes the frame `width` px wide and as tall as the document, scales the
// whole stage down to fit the column, and paints over it on a canvas in page coordinates:
//   - the click map: a density of the clicks (`cells`, 10 px cells), each cell a radial
//     gradient into an alpha-only layer, then coloured blue → green → yellow → red;
//   - the scroll map: bands coloured by the share of page views that reached each depth,
//     lines at 75/50/25 % and the average fold.
// Pointing at a ranked element outlines it in the rebuilt page; clicking it, or a place of
// the map, lists the recordings that clicked there, each opening the player at that click.

import { Replayer } from 'rrweb';
import type { eventWithTime } from 'rrweb';
import { guardFrame, neutralise } from './inert';

interface Drawing {
  width: number;
  cell_size: number;
  cells: [number, number, number][];
  scroll: [number, number][];
  page_views: number;
}

interface Snapshot {
  width: number;
  height: number;
  url: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  events: any[];
}

interface Recording {
  id: string;
  started_at: string;
  duration_ms: number | null;
  device: string | null;
  country: string | null;
  clicks: number;
  at_ms: number;
  rage: boolean;
  dead: boolean;
  error: boolean;
  player_url: string;
}

const RADIUS = 28; // px of page: how far one cell's heat spreads
const PLACE_RADIUS = 20; // px of page: a click on the map asks for the clicks this close
const MAX_CANVAS_HEIGHT = 30_000; // browsers refuse larger canvases
const REACH_MARKS = [0.75, 0.5, 0.25];

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

async function errorMessage(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string }; detail?: unknown };
    if (body.error && body.error.message) return body.error.message;
  } catch {
    // not JSON: fall through
  }
  return `Something went wrong (HTTP ${response.status}). Reload the page and try again.`;
}

/** 75_000 → "1:15", 3_725_000 → "1:02:05". */
function clockTime(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** 256 colours from cold to hot: index = density (0–255). */
function palette(stops: [number, string][]): Uint8ClampedArray {
  const canvas = document.createElement('canvas');
  canvas.width = 256;
  canvas.height = 1;
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  const gradient = ctx.createLinearGradient(0, 0, 256, 0);
  for (const [at, colour] of stops) gradient.addColorStop(at, colour);
  ctx.fillStyle = gradient;
  ctx.fillRect(0, 0, 256, 1);
  return ctx.getImageData(0, 0, 256, 1).data;
}

const HEAT = [
  [0, '#1e3a8a'],
  [0.25, '#2563eb'],
  [0.45, '#10b981'],
  [0.65, '#facc15'],
  [0.85, '#f97316'],
  [1, '#dc2626'],
] as [number, string][];

/** Share of views that reached a depth → colour: red where everyone was, blue where few. */
function reachColour(share: number): string {
  const hue = Math.round(240 * (1 - Math.max(0, Math.min(1, share))));
  return `hsla(${hue}, 85%, 50%, 0.38)`;
}

class Heatmap {
  private readonly data: Drawing;
  private readonly query: URLSearchParams;
  private readonly map: string;
  private readonly fold: number;
  private readonly message: HTMLElement | null;
  private readonly scaler = el('div', 'hm-scaler');
  private readonly canvas = el('canvas', 'hm-canvas');
  private readonly marks = el('div', 'hm-marks');
  private readonly box = el('div', 'hm-box');
  private readonly spot = el('div', 'hm-spot');
  private replayer: Replayer | null = null;
  private height = 0;
  private scale = 1;

  constructor(private readonly stage: HTMLElement) {
    this.data = JSON.parse(stage.dataset.drawing || '{}') as Drawing;
    this.query = new URLSearchParams(stage.dataset.apiQuery || '');
    this.map = stage.dataset.map || 'clicks';
    this.fold = Number(stage.dataset.fold) || 0;
    this.message = document.querySelector('[data-heatmap-message]');
    this.box.hidden = true;
    this.spot.hidden = true;
  }

  private say(text: string, kind: 'info' | 'error' = 'info'): void {
    if (!this.message) return;
    this.message.textContent = text;
    this.message.hidden = !text;
    this.message.classList.toggle('error', kind === 'error');
  }

  private setState(state: string): void {
    this.stage.dataset.state = state;
  }

  async load(): Promise<void> {
    this.wireElements();
    if (this.map === 'scroll') this.listReach();
    let response: Response;
    try {
      response = await fetch(`/api/v1/heatmaps/snapshot?${this.query}`, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
      });
    } catch {
      this.say('The heatmap could not be loaded: the server did not answer. Reload the page to try again.', 'error');
      this.setState('error');
      return;
    }
    if (response.status === 404) {
      this.say(
        'There is no picture of this page to draw on: its page views were recorded, but none of ' +
          'their recordings kept the page itself (they may have been deleted). The numbers and ' +
          'the lists still count every page view.',
        'error',
      );
      this.setState('no-snapshot');
      return;
    }
    if (!response.ok) {
      this.say(await errorMessage(response), 'error');
      this.setState('error');
      return;
    }
    const snapshot = (await response.json()) as Snapshot;
    try {
      await this.rebuild(snapshot);
    } catch (error) {
      console.error('footage heatmap:', error);
      this.say('The page could not be rebuilt from its recording, so the heatmap cannot be drawn over it.', 'error');
      this.setState('error');
      return;
    }
    this.draw();
    this.say(
      snapshot.width !== this.data.width
        ? `Page as seen by a visitor at ${snapshot.width} px, shown ${this.data.width} px wide.`
        : '',
    );
    this.setState('ready');
  }

  // ---- the page as visitors saw it ----

  private async rebuild(snapshot: Snapshot): Promise<void> {
    const width = this.data.width || snapshot.width || 1280;
    const events = (snapshot.events || []).slice().sort((a, b) => a.timestamp - b.timestamp);
    this.stage.append(this.scaler);
    this.scaler.style.width = `${width}px`;
    const replayer = new Replayer(neutralise(events) as unknown as eventWithTime[], {
      root: this.scaler,
      skipInactive: false,
      showWarning: false,
      UNSAFE_replayCanvas: false,
      triggerFocus: false,
      mouseTail: false,
    });
    try {
      guardFrame(replayer.iframe); // a recording is a stranger's page: no script, no input
    } catch (error) {
      replayer.destroy();
      throw error;
    }
    this.replayer = replayer;
    const total = Math.max(0, replayer.getMetaData().totalTime);
    replayer.pause(total);
    await this.firstFrame();
    // The drawn page is a picture: even a click dispatched by script follows no link (not
    // even to a #fragment) and submits nothing. The frame is inert to people already.
    const doc = replayer.iframe.contentDocument;
    for (const type of ['click', 'submit', 'auxclick']) {
      doc?.addEventListener(type, (e) => e.preventDefault(), true);
    }
    const frame = replayer.iframe;
    const wrapper = frame.parentElement as HTMLElement;
    wrapper.classList.add('hm-page');
    frame.setAttribute('scrolling', 'no');
    frame.width = String(width);
    frame.style.width = `${width}px`;
    // Measure at the visitor's window height first: a page sized in vh would otherwise grow
    // with the frame.
    frame.height = String(snapshot.height || 800);
    frame.style.height = `${snapshot.height || 800}px`;
    await nextFrame();
    this.fitHeight();
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute(
      'aria-label',
      this.map === 'scroll' ? 'Scroll map over the page' : 'Click map over the page',
    );
    wrapper.append(this.canvas, this.marks, this.box, this.spot);
    this.fit();
    window.addEventListener('resize', () => this.fit());
    // Images and fonts arriving later make the page taller: measure again a few times.
    for (const delay of [300, 1000, 2500]) {
      setTimeout(() => {
        if (this.fitHeight()) this.draw();
      }, delay);
    }
  }

  private frameDocument(): Document | null {
    return this.replayer ? this.replayer.iframe.contentDocument : null;
  }

  private firstFrame(): Promise<void> {
    return new Promise((resolve) => {
      let tries = 0;
      const check = () => {
        const doc = this.frameDocument();
        if ((doc && doc.body) || tries++ > 150) {
          requestAnimationFrame(() => requestAnimationFrame(() => resolve()));
        } else setTimeout(check, 30);
      };
      check();
    });
  }

  /** Makes the frame as tall as its document; true when the height changed. */
  private fitHeight(): boolean {
    const doc = this.frameDocument();
    if (!doc || !this.replayer) return false;
    const frame = this.replayer.iframe;
    const root = doc.documentElement;
    const measured = Math.max(root ? root.scrollHeight : 0, doc.body ? doc.body.scrollHeight : 0);
    const height = Math.min(MAX_CANVAS_HEIGHT, Math.max(measured, 200));
    if (height <= this.height + 1 && this.height) return false;
    this.height = height;
    frame.height = String(height);
    frame.style.height = `${height}px`;
    const wrapper = frame.parentElement as HTMLElement;
    wrapper.style.height = `${height}px`;
    if (doc.defaultView) doc.defaultView.scrollTo(0, 0);
    this.fit();
    return true;
  }

  /** Scales the page down to the column (never up); coordinates stay those of the page. */
  private fit(): void {
    const width = this.data.width || 1280;
    const available = this.stage.clientWidth || width;
    this.scale = Math.min(1, available / width);
    this.scaler.style.transform = `scale(${this.scale})`;
    this.stage.style.height = `${Math.ceil(this.height * this.scale)}px`;
    this.marks.style.setProperty('--hm-label-size', `${Math.round(13 / this.scale)}px`);
  }

  // ---- drawing ----

  private draw(): void {
    const width = this.data.width || 1280;
    this.canvas.width = width;
    this.canvas.height = this.height;
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${this.height}px`;
    this.marks.replaceChildren();
    if (this.map === 'scroll') this.drawScroll();
    else this.drawClicks();
  }

  private drawClicks(): void {
    const cells = this.data.cells || [];
    const ctx = this.canvas.getContext('2d');
    if (!ctx || !cells.length) return;
    const top = cells.reduce((max, c) => Math.max(max, c[2]), 1);
    // 1. Each cell's heat into an alpha-only layer: overlapping cells add up.
    for (const [x, y, n] of cells) {
      const gradient = ctx.createRadialGradient(x, y, 0, x, y, RADIUS);
      gradient.addColorStop(0, 'rgba(0, 0, 0, 1)');
      gradient.addColorStop(1, 'rgba(0, 0, 0, 0)');
      // a single click still shows; the hottest cell reaches full strength
      ctx.globalAlpha = Math.min(1, 0.25 + 0.75 * (n / top));
      ctx.fillStyle = gradient;
      ctx.fillRect(x - RADIUS, y - RADIUS, RADIUS * 2, RADIUS * 2);
    }
    ctx.globalAlpha = 1;
    // 2. Colour it: the alpha picks a colour of the palette (only the rows that hold heat).
    const ys = cells.map((c) => c[1]);
    const y0 = Math.max(0, Math.min(...ys) - RADIUS);
    const y1 = Math.min(this.height, Math.max(...ys) + RADIUS);
    if (y1 <= y0) return;
    const image = ctx.getImageData(0, y0, this.canvas.width, y1 - y0);
    const pixels = image.data;
    const colours = palette(HEAT);
    for (let i = 3; i < pixels.length; i += 4) {
      const alpha = pixels[i];
      if (!alpha) continue;
      const at = alpha * 4;
      pixels[i - 3] = colours[at];
      pixels[i - 2] = colours[at + 1];
      pixels[i - 1] = colours[at + 2];
      pixels[i] = Math.min(220, 70 + alpha); // see the page through the heat
    }
    ctx.putImageData(image, 0, y0);
  }

  private drawScroll(): void {
    const ctx = this.canvas.getContext('2d');
    const reach = this.data.scroll || [];
    if (!ctx) return;
    const width = this.canvas.width;
    for (let i = 0; i < reach.length; i++) {
      const [depth, share] = reach[i];
      const next = i + 1 < reach.length ? reach[i + 1][0] : depth + 50;
      if (depth >= this.height) break;
      ctx.fillStyle = reachColour(share);
      ctx.fillRect(0, depth, width, next - depth);
    }
    const deepest = reach.length ? reach[reach.length - 1][0] + 50 : 0;
    if (deepest < this.height) {
      ctx.fillStyle = 'rgba(17, 24, 39, 0.55)';
      ctx.fillRect(0, deepest, width, this.height - deepest);
      this.mark(deepest, 'Nobody scrolled this far', 'hm-mark-none');
    }
    for (const share of REACH_MARKS) {
      const found = reach.find(([, s]) => s < share);
      if (!found || found[0] >= this.height) continue;
      this.mark(found[0], `${Math.round(share * 100)}% of visitors saw this far`, 'hm-mark-reach');
    }
    if (this.fold && this.fold < this.height) this.mark(this.fold, `Average fold (${this.fold} px)`, 'hm-mark-fold');
  }

  /** A labelled line across the page at `y` (page px). */
  private mark(y: number, label: string, kind: string): void {
    const line = el('div', `hm-mark ${kind}`);
    line.style.top = `${y}px`;
    line.append(el('span', '', label));
    this.marks.append(line);
  }

  /** The side list: how deep 100 %, 75 %, 50 %, 25 % and 10 % of page views reached. */
  private listReach(): void {
    const list = document.querySelector('[data-heatmap-reach]');
    const reach = this.data.scroll || [];
    if (!list || !reach.length) return;
    let previous = -1;
    for (const share of [1, ...REACH_MARKS, 0.1]) {
      let depth = 0;
      for (const [d, s] of reach) if (s >= share) depth = d;
      if (depth === previous) continue; // "75 % saw 900 px" says nothing new after "100 %"
      previous = depth;
      const item = el('li');
      const who = share === 1 ? 'All visitors' : `${Math.round(share * 100)}% of visitors`;
      item.append(el('b', '', who), ` saw the first ${depth.toLocaleString('en')} px`);
      list.append(item);
    }
    const deepest = reach[reach.length - 1][0] + 50;
    const item = el('li', 'muted');
    item.textContent = `No visitor saw more than the first ${deepest.toLocaleString('en')} px`;
    list.append(item);
  }

  // ---- elements, places and their recordings ----

  private elementBox(selector: string): DOMRect | null {
    const doc = this.frameDocument();
    if (!doc) return null;
    let found: Element | null = null;
    try {
      found = doc.querySelector(selector);
    } catch {
      return null;
    }
    return found ? found.getBoundingClientRect() : null;
  }

  private outline(selector: string | null): void {
    const rect = selector ? this.elementBox(selector) : null;
    this.box.hidden = !rect;
    if (!rect) return;
    const scrollY = this.frameDocument()?.defaultView?.scrollY || 0;
    Object.assign(this.box.style, {
      left: `${rect.left - 4}px`,
      top: `${rect.top + scrollY - 4}px`,
      width: `${rect.width + 8}px`,
      height: `${rect.height + 8}px`,
    });
  }

  private wireElements(): void {
    const buttons = Array.from(document.querySelectorAll<HTMLButtonElement>('.hm-element'));
    for (const button of buttons) {
      const selector = button.dataset.selector || '';
      button.addEventListener('mouseenter', () => this.outline(selector));
      button.addEventListener('focus', () => this.outline(selector));
      button.addEventListener('mouseleave', () => this.outline(null));
      button.addEventListener('click', () => {
        for (const other of buttons) other.setAttribute('aria-pressed', String(other === button));
        this.spot.hidden = true;
        const text = button.querySelector('.hm-text')?.textContent?.trim() || selector;
        const params = new URLSearchParams(this.query);
        params.set('selector', selector);
        void this.listRecordings(params, `“${text}”`);
      });
    }
    this.canvas.addEventListener('click', (event) => {
      if (this.map !== 'clicks') return;
      const rect = this.canvas.getBoundingClientRect();
      const x = Math.round((event.clientX - rect.left) / this.scale);
      const y = Math.round((event.clientY - rect.top) / this.scale);
      Object.assign(this.spot.style, {
        left: `${x - PLACE_RADIUS}px`,
        top: `${y - PLACE_RADIUS}px`,
        width: `${PLACE_RADIUS * 2}px`,
        height: `${PLACE_RADIUS * 2}px`,
      });
      this.spot.hidden = false;
      for (const other of buttons) other.setAttribute('aria-pressed', 'false');
      const params = new URLSearchParams(this.query);
      params.set('x', String(x));
      params.set('y', String(y));
      params.set('radius', String(PLACE_RADIUS));
      void this.listRecordings(params, 'this spot');
    });
  }

  private async listRecordings(params: URLSearchParams, what: string): Promise<void> {
    const panel = document.querySelector<HTMLElement>('[data-heatmap-recordings]');
    if (!panel) return;
    const title = panel.querySelector('[data-heatmap-recordings-title]') as HTMLElement;
    const note = panel.querySelector('[data-heatmap-recordings-note]') as HTMLElement;
    const body = panel.querySelector('tbody') as HTMLTableSectionElement;
    panel.hidden = false;
    panel.dataset.state = 'loading';
    title.textContent = `Recordings that clicked ${what}`;
    note.textContent = 'Loading…';
    note.classList.remove('error');
    body.replaceChildren();
    let response: Response;
    try {
      response = await fetch(`/api/v1/heatmaps/recordings?${params}`, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
      });
    } catch {
      note.textContent = 'The server did not answer. Try again.';
      note.classList.add('error');
      panel.dataset.state = 'error';
      return;
    }
    if (!response.ok) {
      note.textContent = await errorMessage(response);
      note.classList.add('error');
      panel.dataset.state = 'error';
      return;
    }
    const found = (await response.json()) as { clicks: number; recordings: Recording[] };
    const n = found.recordings.length;
    const clicks = `${found.clicks.toLocaleString('en')} click${found.clicks === 1 ? '' : 's'}`;
    title.textContent = n
      ? `${clicks} on ${what} in ${n} recording${n === 1 ? '' : 's'}`
      : `No recorded clicks on ${what}`;
    note.textContent = n
      ? `Newest first${n >= 50 ? ' (the latest 50)' : ''}. “Play from the click” opens the recording at its first click there.`
      : 'Nobody clicked there in this period on this device. Click a coloured spot, or an element of the list.';
    for (const r of found.recordings) body.append(this.recordingRow(r));
    panel.dataset.state = 'ready';
    panel.scrollIntoView({ block: 'nearest' });
  }

  private recordingRow(r: Recording): HTMLTableRowElement {
    const row = el('tr');
    const about = el('td');
    about.append(el('span', 'hm-when', `${r.started_at.slice(0, 16).replace('T', ' ')} UTC`));
    const what = el('span', 'hm-what muted', [clockTime(r.duration_ms || 0), r.device || '', r.country || ''].filter(Boolean).join(' · '));
    for (const [flag, label, kind] of [
      [r.rage, 'rage', 'err'],
      [r.dead, 'dead', 'warn'],
      [r.error, 'error', 'err'],
    ] as [boolean, string, string][]) {
      if (flag) what.append(' ', el('span', `tag ${kind}`, label));
    }
    about.append(what);
    const play = el('a', 'btn small hm-play', 'Play from the click');
    play.href = r.player_url;
    play.title = `Opens the recording at ${clockTime(r.at_ms)}, its first click there`;
    const action = el('td', 'hm-action');
    action.append(play);
    row.append(about, action);
    return row;
  }
}

function nextFrame(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}

function boot(): void {
  const stage = document.getElementById('heatmap');
  if (!stage) return;
  void new Heatmap(stage).load();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
