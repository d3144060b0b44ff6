// Pages of a site inside frames of another origin of the same site (a checkout on
// pay.shop.example inside shop.example, both with the snippet of one site): the frame's page
// joins the recording of the page above it instead of starting its own. rrweb carries the
// frame's events up (the page above records with `recordCrossOriginIframes`), and this file
// is the handshake around it, by `postMessage`:
//
//   frame → page   footage:ask {siteKey}      "record me, if you are this site's page"
//   page  → frames footage:record {siteKey}   "I record (again): send your page from the start"
//   frame → page   rrweb events               (rrweb's own message shape; page's rrweb takes them)
//   frame → page   footage:activity           the visitor moved or typed inside the frame
//   frame → page   footage:error {error}      a JavaScript error of the frame's page
//
// The page invites a frame only with its own site key, and a frame joins only a page with
// its own site key, answering to that page's origin alone; a frame of another site records
// on its own as before. The page takes activity and errors from any of its frames naming its
// site key, whether it heard the frame ask or not (a frame whose config came back first asks
// before the page listens, and joins at the page's invitation later).
//
// The site key is public (it is in every page's source): a hostile frame could claim it, and
// could then add events to the frame's part of the recording (masked and scrubbed by the page
// like its own), add errors (at most MAX_ERRORS_PER_VIEW per page view) or count as activity,
// nothing more.

export const ASK = 'footage:ask';
export const RECORD = 'footage:record';
export const ACTIVITY = 'footage:activity';
export const ERROR = 'footage:error';

export interface FrameMessage {
  type: string;
  siteKey: string;
  /** footage:error's error (message, source, line, column), checked by the page. */
  error?: unknown;
}

/** A handshake message of Footage's, or null for anything else posted to the window. */
export function frameMessage(data: unknown): FrameMessage | null {
  if (!data || typeof data !== 'object') return null;
  const { type, siteKey, error } = data as { type?: unknown; siteKey?: unknown; error?: unknown };
  if (type !== ASK && type !== RECORD && type !== ACTIVITY && type !== ERROR) return null;
  return { type, siteKey: typeof siteKey === 'string' ? siteKey : '', error };
}

/** Whether this page is in a frame whose page above is of another origin. */
export function underOtherOrigin(): boolean {
  if (window.parent === window) return false;
  try {
    return !window.parent.document; // readable: same origin
  } catch {
    return true;
  }
}

/** Whether `source` is the window of one of this document's frames. */
export function isOwnFrame(source: unknown): source is Window {
  if (!source) return false;
  const frames = document.getElementsByTagName('iframe');
  for (let i = 0; i < frames.length; i++) if (frames[i].contentWindow === source) return true;
  return false;
}

/** Tells every frame of this page that it records (again), with the site key. */
export function inviteFrames(siteKey: string): void {
  const frames = document.getElementsByTagName('iframe');
  for (let i = 0; i < frames.length; i++) {
    const win = frames[i].contentWindow;
    try {
      if (win) win.postMessage({ type: RECORD, siteKey }, '*');
    } catch {
      // a frame gone meanwhile
    }
  }
}

/**
 * The addresses of this page's frames that lead to another origin, as rrweb attribute changes
 * (`rr_src`, rrweb's own name for a frame it could not read), for frames not reported yet.
 * rrweb writes `rr_src` only for a frame already showing the other origin when it records it;
 * a frame still loading then shows an empty document of this origin, its address is dropped,
 * and the replay could not say where it led (web/src/unrecorded.ts).
 */
export function frameAddresses(
  reported: WeakSet<HTMLIFrameElement>,
  idOf: (frame: HTMLIFrameElement) => number,
): { id: number; attributes: { rr_src: string } }[] {
  const frames = document.getElementsByTagName('iframe');
  const changes: { id: number; attributes: { rr_src: string } }[] = [];
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i];
    if (reported.has(frame)) continue;
    const id = idOf(frame);
    const src = frame.getAttribute('src');
    if (!(id > 0) || !src) continue;
    reported.add(frame);
    try {
      const url = new URL(src, location.href);
      if ((url.protocol === 'http:' || url.protocol === 'https:') && url.origin !== location.origin) {
        changes.push({ id, attributes: { rr_src: url.href } });
      }
    } catch {
      // not an address
    }
  }
  return changes;
}
