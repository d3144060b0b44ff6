// Conversations in the dashboard: the list reloads when a message arrives; one conversation
// shows new messages as they come (long-polling JSON endpoints of footage/conversations/
// dashboard.py), sends replies without leaving the page, and refreshes its Visitor info panel
// so the recording appears once the visitor has left.

interface AgentMessage {
  seq: number;
  from: 'visitor' | 'agent';
  author: string | null;
  text: string;
  at_ms: number;
}

const PANEL_REFRESH_MS = 5000;
const RETRY_MS = 2000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function utc(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

// ---- the list ------------------------------------------------------------------------------

async function watchList(list: HTMLElement): Promise<void> {
  let latest = Number(list.dataset.latest || '0');
  for (;;) {
    try {
      const response = await fetch(`/conversations/updates.json?since=${latest}`, { credentials: 'same-origin' });
      if (response.status === 401) return;
      const body = (await response.json()) as { changed: boolean; latest: number };
      if (body.changed) {
        latest = body.latest;
        const page = await fetch(location.href, { credentials: 'same-origin' });
        const html = new DOMParser().parseFromString(await page.text(), 'text/html');
        const fresh = html.querySelector('[data-conversation-list]');
        if (fresh) list.innerHTML = fresh.innerHTML;
      }
    } catch {
      await sleep(RETRY_MS);
    }
  }
}

// ---- one conversation ----------------------------------------------------------------------

function messageElement(m: AgentMessage, visitorLabel: string): HTMLLIElement {
  const li = document.createElement('li');
  li.className = `message from-${m.from}`;
  li.dataset.seq = String(m.seq);
  const bubble = document.createElement('span');
  bubble.className = 'bubble';
  bubble.textContent = m.text;
  const by = document.createElement('span');
  by.className = 'by muted small';
  by.textContent = `${m.from === 'visitor' ? visitorLabel : m.author || 'Agent'} · ${utc(m.at_ms)}`;
  li.append(bubble, by);
  return li;
}

function show(root: HTMLElement, list: HTMLElement, messages: AgentMessage[]): void {
  const label = root.dataset.visitorLabel || 'Visitor';
  for (const m of messages) {
    if (list.querySelector(`[data-seq="${m.seq}"]`)) continue;
    list.append(messageElement(m, label));
    root.dataset.after = String(Math.max(Number(root.dataset.after || '0'), m.seq));
  }
  list.scrollTop = list.scrollHeight;
}

async function watchMessages(root: HTMLElement, list: HTMLElement): Promise<void> {
  const id = root.dataset.conversationId;
  for (;;) {
    try {
      const seen = document.visibilityState === 'visible' ? 1 : 0;
      const after = root.dataset.after || '0';
      const response = await fetch(`/conversations/${id}/messages.json?after=${after}&seen=${seen}`, {
        credentials: 'same-origin',
      });
      if (response.status === 401 || response.status === 404) return;
      const body = (await response.json()) as { messages: AgentMessage[] };
      show(root, list, body.messages);
    } catch {
      await sleep(RETRY_MS);
    }
  }
}

function setupReply(root: HTMLElement, form: HTMLFormElement): void {
  const textarea = form.querySelector('textarea') as HTMLTextAreaElement;
  const error = root.querySelector('[data-reply-error]') as HTMLElement | null;
  const send = async (): Promise<void> => {
    const text = textarea.value.trim();
    if (!text) return;
    const data = new FormData(form);
    data.set('text', text);
    data.set('id', `m${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`);
    textarea.value = '';
    try {
      const response = await fetch(form.action, {
        method: 'POST',
        body: new URLSearchParams(data as unknown as Record<string, string>),
        headers: { Accept: 'application/json' },
        credentials: 'same-origin',
      });
      if (!response.ok) throw new Error(((await response.json()) as { error?: { message?: string } }).error?.message || 'not sent');
      if (error) error.hidden = true;
    } catch (e) {
      textarea.value = text; // nothing typed is lost
      if (error) {
        error.textContent = `Your reply was not sent (${(e as Error).message}). Try again.`;
        error.hidden = false;
      }
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void send();
  });
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      void send();
    }
  });
}

async function refreshPanel(panel: HTMLElement): Promise<void> {
  for (;;) {
    await sleep(PANEL_REFRESH_MS);
    try {
      const response = await fetch(panel.dataset.panelUrl || '', { credentials: 'same-origin' });
      if (response.status === 401 || response.status === 404) return;
      if (response.ok) panel.innerHTML = await response.text();
    } catch {
      // the next round tries again
    }
  }
}

function main(): void {
  const list = document.querySelector<HTMLElement>('[data-conversation-list]');
  if (list) void watchList(list);
  const root = document.querySelector<HTMLElement>('[data-conversation]');
  if (root) {
    const messages = root.querySelector<HTMLElement>('[data-messages]')!;
    messages.scrollTop = messages.scrollHeight;
    const form = root.querySelector<HTMLFormElement>('[data-reply]');
    if (form) setupReply(root, form);
    void watchMessages(root, messages);
  }
  const panel = document.querySelector<HTMLElement>('[data-visitor-panel]');
  if (panel) void refreshPanel(panel);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
else main();

export {};
