// frames.js — draws a recording frame by frame, for the MP4 render job.
//
// The page (footage/downloads/templates/video.html) holds the events in
// <script type="application/json" id="footage-events">, a URL bar (#frames-url)
// and the stage (#frames). The server's headless Chromium calls
// `window.footageFrames.show(ms)` for each frame, waits for it, and takes a
// screenshot: the video gets the recording's real duration however fast the
// machine draws.

import { Replayer } from 'rrweb';
import type { eventWithTime } from 'rrweb';
import { canvasPictures } from './canvasreplay';
import { unrecordedFrames } from './unrecorded';
import { guardFrame, neutralise } from './inert';
import { META } from './vocabulary';

interface RawEvent {
  type: number;
  timestamp: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data?: any;
}

function nextFrame(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve())));
}

function boot(): void {
  const stage = document.getElementById('frames');
  const bar = document.getElementById('frames-url');
  const source = document.getElementById('footage-events');
  if (!stage || !bar || !source) return;
  const parsed: unknown = JSON.parse(source.textContent || '[]');
  const events = (Array.isArray(parsed) ? (parsed as RawEvent[]) : []).slice().sort((a, b) => a.timestamp - b.timestamp);
  if (!events.length) {
    document.body.dataset.state = 'error';
    return;
  }
  const first = events[0].timestamp;
  const pages = events
    .filter((e) => e.type === META && e.data)
    .map((e) => ({ time: e.timestamp - first, href: String(e.data.href || '') }));
  const meta = events.find((e) => e.type === META && e.data && e.data.width > 0 && e.data.height > 0);
  let dims = meta ? { width: meta.data.width as number, height: meta.data.height as number } : { width: 1280, height: 720 };

  const screen = document.createElement('div');
  screen.className = 'frames-screen';
  stage.append(screen);
  const replayer = new Replayer(neutralise(events) as unknown as eventWithTime[], {
    root: screen,
    skipInactive: false,
    showWarning: false,
    UNSAFE_replayCanvas: false,
    // canvas pictures and frames not recorded, shown from outside the sandbox
      plugins: [canvasPictures(), unrecordedFrames()],
    triggerFocus: false,
    mouseTail: { duration: 600, lineCap: 'round', lineWidth: 2, strokeStyle: 'rgba(79, 70, 229, 0.3)' },
  });
  try {
    guardFrame(replayer.iframe);
  } catch (error) {
    console.error('footage frames:', error);
    replayer.destroy();
    document.body.dataset.state = 'error';
    return;
  }

  const fit = () => {
    const width = window.innerWidth;
    const height = window.innerHeight - bar.offsetHeight;
    stage.style.height = `${height}px`;
    const scale = Math.min(width / dims.width, height / dims.height);
    screen.style.width = `${dims.width}px`;
    screen.style.height = `${dims.height}px`;
    screen.style.transform = `translateX(${Math.max(0, (width - dims.width * scale) / 2)}px) scale(${scale})`;
  };
  replayer.on('resize', (payload) => {
    const d = payload as { width?: number; height?: number };
    if (d && d.width && d.height) {
      dims = { width: d.width, height: d.height };
      fit();
    }
  });
  window.addEventListener('resize', fit);
  fit();

  // Never past the recording cap the server renders (data-max-ms): a recording whose
  // timestamps span years is shown up to the cap, like the frames the server asks for.
  const cap = Number(document.body.dataset.maxMs) || Number.POSITIVE_INFINITY;
  const total = Math.min(cap, Math.max(0, replayer.getMetaData().totalTime));
  const urlAt = (time: number) => {
    let url = '';
    for (const page of pages) if (page.time <= time) url = page.href;
    return url;
  };

  (window as unknown as { footageFrames: unknown }).footageFrames = {
    total,
    /** Shows the recording as it was `ms` after its start; resolves once that frame is drawn. */
    async show(ms: number): Promise<void> {
      const time = Math.min(total, Math.max(0, ms));
      // A paused Replayer applies the events strictly before its offset.
      replayer.pause(Math.min(total, time + 1));
      const url = urlAt(time);
      if (bar.textContent !== url) bar.textContent = url;
      await nextFrame();
    },
  };
  document.body.dataset.state = 'ready';
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
