// The player page's Share dialog (footage/web/templates/player.html, `[data-share]`):
// creates a share link of the recording, shows it once with a copy button, and lists the
// recording's active links, each revocable. The server side is footage/share/routes.py.

interface ShareLink {
  id: string;
  start_ms: number;
  created_at: string;
  created_by: string;
  expires_at: string | null;
  views: number;
  last_viewed_at: string | null;
  path?: string;
}

interface ApiError {
  error?: { message?: string };
}

/** "2026-11-29T10:15:03.120Z" → "2026-11-29 10:15 UTC" (the dashboard shows UTC). */
function when(iso: string | null, none: string): string {
  return iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : none;
}

/** 42_000 → "0:42", 3_725_000 → "1:02:05". */
function clockTime(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function cell(text: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

async function message(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as ApiError;
    if (body.error && body.error.message) return body.error.message;
  } catch {
    // not JSON: fall through
  }
  return `Something went wrong (HTTP ${response.status}). Reload the page and try again.`;
}

function setup(root: HTMLElement): void {
  const recordingId = root.dataset.recordingId || '';
  const csrf = root.dataset.csrf || '';
  const dialog = root.querySelector('dialog') as HTMLDialogElement;
  const form = root.querySelector('[data-share-form]') as HTMLFormElement;
  const error = root.querySelector('[data-share-error]') as HTMLElement;
  const createdBox = root.querySelector('[data-share-created]') as HTMLElement;
  const urlInput = root.querySelector('[data-share-url]') as HTMLInputElement;
  const copied = root.querySelector('[data-share-copied]') as HTMLElement;
  const table = root.querySelector('[data-share-list]') as HTMLTableElement;
  const empty = root.querySelector('[data-share-empty]') as HTMLElement;
  const startInput = form.elements.namedItem('start') as HTMLInputElement;
  const base = `/recordings/${encodeURIComponent(recordingId)}/share-links`;

  const showError = (text: string) => {
    error.textContent = text;
    error.hidden = !text;
  };

  const post = (url: string, data: FormData) => {
    data.set('csrf', csrf);
    return fetch(url, { method: 'POST', body: data, credentials: 'same-origin', headers: { Accept: 'application/json' } });
  };

  const render = (links: ShareLink[]) => {
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const link of links) {
      const row = document.createElement('tr');
      row.dataset.linkId = link.id;
      const revoke = document.createElement('button');
      revoke.type = 'button';
      revoke.className = 'btn small danger';
      revoke.textContent = 'Revoke';
      revoke.addEventListener('click', () => void revokeLink(link.id, revoke));
      const action = document.createElement('td');
      action.append(revoke);
      row.append(
        cell(link.created_by),
        cell(when(link.expires_at, 'when the recording is deleted')),
        cell(clockTime(link.start_ms)),
        cell(String(link.views)),
        cell(when(link.last_viewed_at, 'never')),
        action,
      );
      body.append(row);
    }
    table.hidden = links.length === 0;
    empty.hidden = links.length > 0;
  };

  // The list is busy while it loads: assistive technology (and a test) waits for the rows.
  const load = async () => {
    dialog.setAttribute('aria-busy', 'true');
    try {
      const response = await fetch(`/api/v1/recordings/${encodeURIComponent(recordingId)}/share-links`, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
      });
      if (!response.ok) return showError(await message(response));
      render(((await response.json()) as { items: ShareLink[] }).items);
    } finally {
      dialog.setAttribute('aria-busy', 'false');
    }
  };

  const revokeLink = async (id: string, button: HTMLButtonElement) => {
    button.disabled = true;
    const response = await post(`/share-links/${encodeURIComponent(id)}/revoke`, new FormData());
    if (!response.ok) {
      button.disabled = false;
      return showError(await message(response));
    }
    showError('');
    await load();
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError('');
    const submit = form.querySelector('button:not([type=button])') as HTMLButtonElement;
    submit.disabled = true;
    try {
      const response = await post(base, new FormData(form));
      if (!response.ok) return showError(await message(response));
      const link = (await response.json()) as ShareLink;
      urlInput.value = new URL(link.path || '', window.location.href).href;
      copied.textContent = 'Copy it now: it is shown only this once.';
      createdBox.hidden = false;
      urlInput.focus();
      urlInput.select();
      await load();
    } finally {
      submit.disabled = false;
    }
  });

  root.querySelector('[data-share-copy]')?.addEventListener('click', async () => {
    urlInput.select();
    try {
      await navigator.clipboard.writeText(urlInput.value);
    } catch {
      // no clipboard API (a page served over plain HTTP): the selected text copies the old way
      document.execCommand('copy');
    }
    copied.textContent = 'Copied. It is shown only this once.';
  });

  root.querySelector('[data-share-now]')?.addEventListener('click', () => {
    const player = (window as unknown as { footagePlayer?: { getCurrentTime(): number } }).footagePlayer;
    startInput.value = clockTime(player ? player.getCurrentTime() : 0);
  });

  root.querySelector('[data-share-open]')?.addEventListener('click', () => {
    showError('');
    createdBox.hidden = true;
    urlInput.value = '';
    dialog.showModal();
    void load();
  });
  root.querySelector('[data-share-close]')?.addEventListener('click', () => dialog.close());
}

function boot(): void {
  for (const root of document.querySelectorAll<HTMLElement>('[data-share]')) setup(root);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
