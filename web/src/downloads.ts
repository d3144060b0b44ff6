// The player page's Download menu: HTML and JSON are plain links; "MP4" asks the server to
// render the video (POST …/video: starting a render is never a GET), then polls …/video.json
// and shows "Rendering video… 42 %" with a Cancel button (POST …/video/cancel) until the file
// is ready, then a download link. (A module: `export {}` below.)

const POLL_MS = 1000;

interface VideoStatus {
  status: 'none' | 'queued' | 'rendering' | 'ready' | 'failed';
  progress: number;
  download_url: string | null;
  error: string | null;
}

function setup(): void {
  const menu = document.querySelector<HTMLElement>('[data-download]');
  if (!menu) return;
  const id = menu.dataset.recordingId || '';
  const csrf = menu.dataset.csrf || '';
  const link = menu.querySelector<HTMLAnchorElement>('[data-download-video]');
  const box = menu.querySelector<HTMLElement>('[data-download-status]');
  const bar = menu.querySelector<HTMLElement>('[data-download-bar]');
  const text = menu.querySelector<HTMLElement>('[data-download-text]');
  const cancel = menu.querySelector<HTMLButtonElement>('[data-download-cancel]');
  if (!link || !box || !bar || !text || !cancel) return;
  const base = `/recordings/${encodeURIComponent(id)}/video`;
  let timer = 0;

  const show = (s: VideoStatus) => {
    box.hidden = s.status === 'none';
    bar.parentElement!.hidden = s.status === 'ready' || s.status === 'failed';
    bar.style.width = `${Math.max(0, Math.min(100, s.progress))}%`;
    box.dataset.status = s.status;
    const busy = s.status === 'queued' || s.status === 'rendering';
    cancel.hidden = !busy;
    cancel.disabled = false;
    if (s.status === 'queued') text.textContent = 'Waiting for the video renderer…';
    else if (s.status === 'rendering') text.textContent = `Rendering video… ${s.progress} %`;
    else if (s.status === 'failed') {
      text.textContent = (s.error || '').startsWith('cancelled')
        ? 'The video was cancelled. Click MP4 to render it again.'
        : `The video could not be rendered: ${s.error || 'unknown error'}. Click MP4 to try again.`;
      text.className = 'error';
    } else if (s.status === 'ready' && s.download_url) {
      text.className = '';
      text.replaceChildren();
      const a = document.createElement('a');
      a.className = 'btn small';
      a.href = s.download_url;
      a.setAttribute('download', '');
      a.textContent = 'Download video (MP4)';
      text.append(a);
    }
    link.setAttribute('aria-disabled', String(busy));
  };

  const fail = (message: string) => {
    box.hidden = false;
    cancel.hidden = true;
    bar.parentElement!.hidden = true;
    text.className = 'error';
    text.textContent = message;
  };

  const poll = async () => {
    window.clearTimeout(timer);
    try {
      const response = await fetch(`${base}.json`, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (!response.ok) return fail(`The video status could not be read (HTTP ${response.status}).`);
      const status = (await response.json()) as VideoStatus;
      show(status);
      if (status.status === 'queued' || status.status === 'rendering') timer = window.setTimeout(poll, POLL_MS);
    } catch {
      fail('The video status could not be read. Check your connection.');
    }
  };

  // POST with the CSRF token; the server's status, or a message saying why not.
  const send = async (url: string, what: string) => {
    text.className = '';
    try {
      const response = await fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { Accept: 'application/json', 'X-CSRF-Token': csrf },
      });
      if (!response.ok) {
        // The server says why (e.g. "MP4 needs chromium and ffmpeg on the server", or that
        // the account already has its renders queued).
        const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
        return fail(body?.error?.message || `The video could not be ${what} (HTTP ${response.status}).`);
      }
      show((await response.json()) as VideoStatus);
      void poll();
    } catch {
      fail(`The video could not be ${what}. Check your connection.`);
    }
  };

  link.addEventListener('click', (event) => {
    event.preventDefault();
    void send(base, 'requested');
  });
  cancel.addEventListener('click', () => {
    cancel.disabled = true;
    void send(`${base}/cancel`, 'cancelled');
  });

  // A render asked for earlier (here or through the API) shows its state when the menu opens.
  const details = menu as HTMLDetailsElement;
  menu.addEventListener('toggle', () => {
    if (details.open) void poll();
  });
  // Like any menu: a click elsewhere or Escape closes it.
  document.addEventListener('click', (event) => {
    if (details.open && !menu.contains(event.target as Node)) details.open = false;
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && details.open) details.open = false;
  });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', setup);
else setup();

export {};
