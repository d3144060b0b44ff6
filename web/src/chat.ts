// footage-chat.js — the visitor's chat box, loaded by footage.js only on sites with chat on.
//
// It lives in a closed shadow root under a host element marked data-recording-block and
// data-recording-ignore="events": rrweb records an empty box of the same size, never sees what
// is inside (the messages, the text being typed), and taps on it are not recorded. The host
// page's CSS cannot reach it either, nor can its scripts read it.
//
// It asks footage.js for what it needs (`footage('chat:context', cb)`: the server, the site
// key, the visitor id the recorder keeps), so nothing is added to the page's globals. Messages
// go out as JSON in text/plain POSTs (no preflight, no cookies); answers arrive by
// long-polling POST /api/v1/chat/poll. The conversation's secret, which the server gives with
// the first message, stays in the site's own localStorage.

interface Context {
  host: string;
  siteKey: string;
  visitorId: string;
}

interface Message {
  seq: number;
  from: 'visitor' | 'agent';
  author: string | null;
  text: string;
  at: string;
}

interface Saved {
  id: string;
  token: string;
}

const RETRY_MS = 3000;
const MAX_TEXT = 4000;
/** The longest wait a `Retry-After` may ask of the chat box; a longer one is treated as this. */
const MAX_WAIT_MS = 60 * 60 * 1000;

/** `Retry-After` in milliseconds (seconds or an HTTP date), capped; 0 when absent or unreadable. */
function retryAfterMs(response: Response): number {
  const header = response.headers.get('Retry-After');
  if (!header) return 0;
  const seconds = Number(header);
  let ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  if (!Number.isFinite(ms) || ms < 0) return 0;
  return Math.min(ms, MAX_WAIT_MS);
}

/** A refusal the visitor should read as it is (the server's words), with how long to wait. */
class Refused extends Error {
  constructor(message: string, readonly waitMs: number) {
    super(message);
  }
}

const STYLE = `
:host { all: initial; }
* { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.launcher { position: fixed; right: 20px; bottom: 20px; width: 56px; height: 56px; border-radius: 50%;
  border: 0; background: #4f46e5; color: #fff; cursor: pointer; box-shadow: 0 6px 20px rgba(0,0,0,.25);
  display: flex; align-items: center; justify-content: center; z-index: 2147483646; }
.launcher svg { width: 28px; height: 28px; }
.badge { position: absolute; top: -2px; right: -2px; min-width: 20px; height: 20px; border-radius: 10px;
  background: #dc2626; color: #fff; font-size: 12px; font-weight: 700; line-height: 20px; text-align: center; padding: 0 5px; }
.panel { position: fixed; right: 20px; bottom: 88px; width: 360px; height: min(560px, calc(100vh - 110px));
  background: #fff; color: #111827; border-radius: 14px; box-shadow: 0 12px 40px rgba(0,0,0,.28);
  display: flex; flex-direction: column; overflow: hidden; z-index: 2147483647; font-size: 15px; line-height: 1.4; }
.panel[hidden] { display: none; }
header { background: #4f46e5; color: #fff; padding: 14px 16px; display: flex; align-items: center; gap: 10px; }
header b { font-size: 16px; display: block; }
header span { font-size: 13px; opacity: .85; }
header .close { margin-left: auto; background: none; border: 0; color: #fff; font-size: 26px; line-height: 1; cursor: pointer; padding: 4px 8px; }
ol { list-style: none; margin: 0; padding: 14px; flex: 1; overflow-y: auto; display: flex; flex-direction: column; gap: 8px; background: #f9fafb; }
li { max-width: 82%; display: flex; flex-direction: column; align-items: flex-start; }
li.visitor { align-self: flex-end; align-items: flex-end; }
li p { margin: 0; padding: 8px 12px; border-radius: 14px 14px 14px 4px; background: #e5e7eb; white-space: pre-wrap; overflow-wrap: anywhere; }
li.visitor p { background: #4f46e5; color: #fff; border-radius: 14px 14px 4px 14px; }
li small { color: #6b7280; font-size: 11px; margin-top: 2px; }
.hello { color: #4b5563; font-size: 14px; text-align: center; margin: auto 0; }
form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e5e7eb; background: #fff; }
textarea { flex: 1; resize: none; border: 1px solid #d1d5db; border-radius: 10px; padding: 9px 11px; font-size: 16px; height: 44px; max-height: 120px; }
textarea:focus { outline: 2px solid #818cf8; border-color: transparent; }
button.send { border: 0; border-radius: 10px; background: #4f46e5; color: #fff; font-size: 15px; font-weight: 600; padding: 0 16px; cursor: pointer; }
button.send:disabled { opacity: .5; cursor: default; }
.error { color: #b91c1c; font-size: 13px; padding: 0 12px 8px; margin: 0; }
@media (max-width: 520px) {
  .panel { right: 0; bottom: 0; width: 100%; height: 100%; border-radius: 0; }
  .launcher { right: 16px; bottom: 16px; }
}
`;

const ICON =
  '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"/></svg>';

/**
 * A constructed stylesheet where the browser has them: a site whose Content-Security-Policy
 * forbids inline styles still shows the chat box styled. A <style> element elsewhere.
 */
function adoptStyle(root: ShadowRoot): void {
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
    root.adoptedStyleSheets = [sheet];
    return;
  } catch {
    // an older browser
  }
  const style = el('style');
  style.textContent = STYLE;
  root.append(style);
}

function randomId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  let out = 'm';
  for (let i = 0; i < bytes.length; i++) out += (bytes[i] + 0x100).toString(16).slice(1);
  return out;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function timeOf(iso: string): string {
  const d = new Date(iso);
  return isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

class Chat {
  private readonly storageKey: string;
  private saved: Saved | null;
  private after = 0;
  private polling = false;
  private stopped = false;
  private unread = 0;
  /** The first answer is the conversation so far (another page of the visit): not news. */
  private loaded = false;
  private readonly shown = new Set<number>();
  private readonly host = el('div');
  private readonly launcher = el('button', 'launcher');
  private readonly badge = el('span', 'badge');
  private readonly panel = el('section', 'panel');
  private readonly list = el('ol');
  private readonly hello = el('li', 'hello', 'Ask us anything — we answer right here.');
  private readonly input = el('textarea');
  private readonly sendButton = el('button', 'send', 'Send');
  private readonly error = el('p', 'error');
  /** Until when the server asked us not to send (429 Retry-After), in ms since the epoch. */
  private waitUntil = 0;
  private waitTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly ctx: Context) {
    this.storageKey = `footage_chat_${ctx.siteKey}`;
    this.saved = this.load();
  }

  mount(): void {
    // Excluded from recordings: rrweb keeps an empty box, and cannot see into a closed root;
    // taps and scrolls on it are not recorded either (they would read as clicks on nothing).
    this.host.setAttribute('data-recording-block', '');
    this.host.setAttribute('data-recording-ignore', 'events');
    this.host.setAttribute('data-footage-chat', '');
    this.host.className = 'footage-chat'; // the one attribute a blocked element keeps in a recording
    const root = this.host.attachShadow({ mode: 'closed' });
    adoptStyle(root);
    this.launcher.type = 'button';
    this.launcher.setAttribute('aria-label', 'Chat with us');
    this.launcher.innerHTML = ICON;
    this.badge.hidden = true;
    this.launcher.append(this.badge);
    this.launcher.addEventListener('click', () => this.toggle());

    this.panel.hidden = true;
    this.panel.setAttribute('role', 'dialog');
    this.panel.setAttribute('aria-label', 'Chat');
    const header = el('header');
    const title = el('div');
    title.append(el('b', '', 'Chat with us'), el('span', '', 'A person reads every message.'));
    const close = el('button', 'close', '×');
    close.type = 'button';
    close.setAttribute('aria-label', 'Close the chat');
    close.addEventListener('click', () => this.toggle(false));
    header.append(title, close);
    this.list.setAttribute('aria-live', 'polite');
    this.list.append(this.hello);
    const form = el('form');
    this.input.placeholder = 'Write a message…';
    this.input.maxLength = MAX_TEXT;
    this.input.setAttribute('aria-label', 'Your message');
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        void this.send();
      }
    });
    const send = this.sendButton;
    send.type = 'submit';
    form.append(this.input, send);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.send();
    });
    this.error.hidden = true;
    // Escape closes the open box from anywhere inside it, and gives the focus back to the
    // button that opens it (keyboard users are not left on a hidden field).
    this.panel.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || event.isComposing) return;
      event.preventDefault();
      this.toggle(false);
      this.launcher.focus();
    });
    this.panel.append(header, this.list, this.error, form);
    root.append(this.panel, this.launcher);
    document.body.appendChild(this.host);

    window.addEventListener('pagehide', () => {
      this.stopped = true;
    });
    window.addEventListener('pageshow', (event) => {
      if ((event as PageTransitionEvent).persisted) {
        this.stopped = false;
        void this.poll();
      }
    });
    if (this.saved) void this.poll();
  }

  private toggle(open?: boolean): void {
    const show = open === undefined ? this.panel.hidden : open;
    this.panel.hidden = !show;
    this.launcher.setAttribute('aria-expanded', String(show));
    if (show) {
      this.unread = 0;
      this.badge.hidden = true;
      this.list.scrollTop = this.list.scrollHeight;
      this.input.focus();
    }
  }

  private load(): Saved | null {
    try {
      const raw = window.localStorage.getItem(this.storageKey);
      const saved = raw ? (JSON.parse(raw) as Saved) : null;
      return saved && typeof saved.id === 'string' && typeof saved.token === 'string' ? saved : null;
    } catch {
      return null;
    }
  }

  private store(saved: Saved | null): void {
    this.saved = saved;
    try {
      if (saved) window.localStorage.setItem(this.storageKey, JSON.stringify(saved));
      else window.localStorage.removeItem(this.storageKey);
    } catch {
      // storage blocked: the conversation lasts as long as this page
    }
  }

  private async request(path: string, body: Record<string, unknown>): Promise<Response> {
    return fetch(`${this.ctx.host}/api/v1/chat/${path}`, {
      method: 'POST',
      body: JSON.stringify({ site_key: this.ctx.siteKey, ...body }),
      headers: { 'Content-Type': 'text/plain' },
      credentials: 'omit',
      mode: 'cors',
    });
  }

  private async send(): Promise<void> {
    const text = this.input.value.trim();
    if (!text || Date.now() < this.waitUntil) return; // the wait's message is showing
    this.input.value = '';
    this.error.hidden = true;
    const id = randomId();
    try {
      let response = await this.request('messages', this.messageBody(text, id));
      if ((response.status === 404 || response.status === 409) && this.saved) {
        // The conversation is gone (erased, past its retention) or full: start a new one.
        this.store(null);
        response = await this.request('messages', this.messageBody(text, id));
      }
      const answer = (await response.json()) as { conversation_id?: string; token?: string; message?: Message; error?: { message?: string } };
      if (response.status === 429) {
        throw new Refused(answer.error?.message || 'You are sending messages too fast; wait a moment.', retryAfterMs(response) || RETRY_MS);
      }
      if (!response.ok) throw new Error(answer.error?.message || `error ${response.status}`);
      if (answer.token && answer.conversation_id) this.store({ id: answer.conversation_id, token: answer.token });
      if (answer.message) this.show([answer.message]);
      if (!this.polling) void this.poll();
    } catch (e) {
      // Nothing typed is lost: the message goes back in front of whatever was typed since.
      const since = this.input.value.trim();
      this.input.value = since ? `${text}\n${since}` : text;
      if (e instanceof Refused) {
        this.pause(e.message, e.waitMs);
      } else {
        this.error.textContent = `Not sent: ${(e as Error).message}. Please try again.`;
        this.error.hidden = false;
      }
    }
  }

  /** The server asked us to wait: say so in its words, and send again only after the wait. */
  private pause(message: string, waitMs: number): void {
    this.waitUntil = Date.now() + waitMs;
    this.error.textContent = message;
    this.error.hidden = false;
    this.sendButton.disabled = true;
    clearTimeout(this.waitTimer);
    this.waitTimer = setTimeout(() => {
      this.waitUntil = 0;
      this.sendButton.disabled = false;
      this.error.hidden = true;
    }, waitMs);
  }

  private messageBody(text: string, id: string): Record<string, unknown> {
    const body: Record<string, unknown> = { visitor_id: this.ctx.visitorId, text, id };
    if (this.saved) {
      body.conversation_id = this.saved.id;
      body.token = this.saved.token;
    }
    return body;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      while (this.saved && !this.stopped) {
        const saved = this.saved;
        try {
          const response = await this.request('poll', { conversation_id: saved.id, token: saved.token, after: this.after });
          if (response.status === 404 || response.status === 403) {
            if (response.status === 404 && this.saved === saved) this.store(null);
            return;
          }
          if (response.status === 429) {
            // Too many chat windows wait from this network: wait as long as the server asks.
            await new Promise((resolve) => setTimeout(resolve, Math.max(RETRY_MS, retryAfterMs(response))));
            continue;
          }
          if (!response.ok) throw new Error(String(response.status));
          const body = (await response.json()) as { messages: Message[] };
          this.show(body.messages);
          this.loaded = true;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        }
      }
    } finally {
      this.polling = false;
    }
  }

  private show(messages: Message[]): void {
    for (const m of messages) {
      this.after = Math.max(this.after, m.seq);
      if (this.shown.has(m.seq)) continue;
      this.shown.add(m.seq);
      this.hello.remove();
      const item = el('li', m.from);
      item.append(el('p', '', m.text), el('small', '', `${m.from === 'agent' ? `${m.author || 'Support'} · ` : ''}${timeOf(m.at)}`));
      const later = Array.from(this.list.children).find((child) => Number((child as HTMLElement).dataset.seq) > m.seq);
      item.dataset.seq = String(m.seq);
      this.list.insertBefore(item, later || null);
      if (m.from === 'agent' && this.panel.hidden && this.loaded) {
        this.unread++;
        this.badge.textContent = String(this.unread);
        this.badge.hidden = false;
      }
    }
    this.list.scrollTop = this.list.scrollHeight;
  }
}

function start(ctx: Context): void {
  if (!ctx || !document.body || document.querySelector('[data-footage-chat]')) return;
  new Chat(ctx).mount();
}

try {
  const footage = (window as unknown as { footage?: (...args: unknown[]) => void }).footage;
  if (typeof footage === 'function') footage('chat:context', start);
} catch {
  // never break the host page
}

export {};
