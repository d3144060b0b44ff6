// alerts.ts — an agent on any dashboard page hears of a visitor's new chat message.
//
// Every logged-in page long-polls /conversations/alerts.json (it answers once a visitor has
// written). On each new message: the unread count in the navigation and in the tab's title,
// a short sound (once the agent has clicked or typed on the page: browsers allow sound only
// then), and a desktop notification when the agent allowed them (the Conversations page has
// the button that asks).

interface Alerts {
  mark: number;
  unread?: number;
  unchanged?: boolean;
  newest?: { id: string; visitor: string; site: string } | null;
}

const RETRY_MS = 5000;
const baseTitle = document.title.replace(/^\(\d+\) /, '');
let audio: AudioContext | null = null;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The unread count beside "Conversations" in the navigation, and in the tab's title. */
function showUnread(link: HTMLAnchorElement, unread: number): void {
  let tag = link.querySelector<HTMLElement>('.tag');
  if (unread > 0 && !tag) {
    tag = document.createElement('span');
    tag.className = 'tag';
    tag.title = 'Conversations with messages nobody has read yet';
    link.append(' ', tag);
  }
  if (tag) {
    tag.textContent = String(unread);
    tag.hidden = unread === 0;
  }
  document.title = unread > 0 ? `(${unread}) ${baseTitle}` : baseTitle;
}

/** Two soft notes; silent until the page has had a click or a key (the browser's rule). */
function chime(): void {
  if (!audio || audio.state !== 'running') return;
  const now = audio.currentTime;
  [660, 880].forEach((frequency, i) => {
    const tone = audio!.createOscillator();
    const gain = audio!.createGain();
    tone.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, now + i * 0.15);
    gain.gain.exponentialRampToValueAtTime(0.15, now + i * 0.15 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.15 + 0.3);
    tone.connect(gain).connect(audio!.destination);
    tone.start(now + i * 0.15);
    tone.stop(now + i * 0.15 + 0.32);
  });
}

function notify(newest: NonNullable<Alerts['newest']>): void {
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  if (location.pathname === `/conversations/${newest.id}` && document.hasFocus()) return;
  const shown = new Notification(`New message from ${newest.visitor}`, {
    body: `On ${newest.site}. Open the conversation to answer.`,
    tag: `footage-conversation-${newest.id}`,
  });
  shown.onclick = () => {
    window.focus();
    location.href = `/conversations/${newest.id}`;
  };
}

async function watch(link: HTMLAnchorElement): Promise<void> {
  let mark = -1;
  for (;;) {
    try {
      const response = await fetch(`/conversations/alerts.json?mark=${mark}`, { credentials: 'same-origin' });
      if (response.status === 401 || response.status === 403) return; // logged out
      if (!response.ok) throw new Error(String(response.status));
      const body = (await response.json()) as Alerts;
      if (body.unchanged) continue;
      const first = mark < 0;
      const more = body.mark > mark;
      mark = body.mark;
      showUnread(link, body.unread ?? 0);
      if (!first && more && body.newest) {
        chime();
        notify(body.newest);
      }
    } catch {
      await sleep(RETRY_MS);
    }
  }
}

/** The button on the Conversations page that asks for desktop notifications. */
function offerNotifications(): void {
  const button = document.querySelector<HTMLButtonElement>('[data-enable-notifications]');
  if (!button || typeof Notification === 'undefined') return;
  const refresh = (): void => {
    button.hidden = Notification.permission !== 'default';
  };
  refresh();
  button.addEventListener('click', () => {
    void Notification.requestPermission().then(refresh);
  });
}

function unlockSound(): void {
  if (audio || typeof AudioContext === 'undefined') return;
  audio = new AudioContext();
  void audio.resume();
}

export function setupAlerts(): void {
  const link = document.querySelector<HTMLAnchorElement>('header nav a[href="/conversations"]');
  if (!link) return; // not logged in
  document.addEventListener('pointerdown', unlockSound, { once: true });
  document.addEventListener('keydown', unlockSound, { once: true });
  offerNotifications();
  void watch(link);
}
