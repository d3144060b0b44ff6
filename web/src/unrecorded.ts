// Frames the recording could not see into. A frame of another origin (a payment form, a video,
// a map of another site) is recorded as an empty frame with its address (rrweb's `rr_src`):
// its page belongs to someone else and the recorder cannot read it (unless it is a page of the
// same site with the snippet, which joins the recording: web/src/crossframe.ts). Left as it is, the replay
// shows an empty box; this Replayer plugin marks it instead: a grey box saying "Not recorded"
// and where the frame led, drawn as the frame's background (the replay runs no script and
// loads nothing from that address).

import type { ReplayPlugin, Replayer } from 'rrweb';

const FULL_SNAPSHOT = 2;
const INCREMENTAL = 3;
const MUTATION = 0;
/** Characters of the address shown: enough to recognise it. */
const MAX_SHOWN = 80;

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

/** What the placeholder says about an address: its host and path, never its query. */
export function shownAddress(src: string): string {
  let text = src;
  try {
    const url = new URL(src);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return '';
    text = url.host + (url.pathname === '/' ? '' : url.pathname);
  } catch {
    return '';
  }
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 1)}…` : text;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The placeholder as an SVG data: URL (text drawn by the browser, nothing loaded). */
export function placeholder(src: string): string {
  const where = shownAddress(src);
  const lines = [
    '<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="100%">',
    '<rect width="100%" height="100%" fill="#f1f5f9" stroke="#94a3b8" stroke-width="2" stroke-dasharray="6 4"/>',
    '<text x="50%" y="50%" text-anchor="middle" font-family="sans-serif" font-size="14" fill="#475569">',
    '<tspan x="50%" dy="-0.3em" font-weight="bold">Frame not recorded (another site)</tspan>',
    where ? `<tspan x="50%" dy="1.4em">${escapeXml(where)}</tspan>` : '',
    '</text></svg>',
  ];
  return `url("data:image/svg+xml,${encodeURIComponent(lines.join(''))}")`;
}

/** The address a replayed frame had on the visitor's page when its content was not recorded. */
function unrecordedSource(replayer: Replayer, node: Node): string | null {
  if (node.nodeName !== 'IFRAME') return null;
  const meta = replayer.getMirror().getMeta(node) as { attributes?: Obj } | null;
  let src: unknown = meta && isObj(meta.attributes) ? meta.attributes.rr_src : null;
  // …or set later by an attribute change (the recorder tells it for a frame still loading).
  if (typeof src !== 'string' || !src) src = (node as Element).getAttribute('rr_src');
  return typeof src === 'string' && src ? src : null;
}

/** Whether the replay shows a page inside the frame (its page joined the recording). */
function hasContent(frame: HTMLElement): boolean {
  try {
    const doc = (frame as HTMLIFrameElement).contentDocument;
    return !!doc && !!doc.body && doc.body.childNodes.length > 0;
  } catch {
    return false;
  }
}

function mark(frame: HTMLElement, src: string): void {
  if (hasContent(frame)) {
    // A page of this site inside a frame of another origin joins the recording (crossframe.ts).
    for (const property of ['background-image', 'background-repeat', 'background-size']) frame.style.removeProperty(property);
    return;
  }
  const image = placeholder(src);
  if (frame.style.getPropertyValue('background-image') === image) return;
  frame.style.setProperty('background-image', image);
  frame.style.setProperty('background-repeat', 'no-repeat');
  frame.style.setProperty('background-size', '100% 100%');
}

/** The Replayer plugin: marks every frame of the replay whose content was not recorded. */
export function unrecordedFrames(): ReplayPlugin {
  let replayer: Replayer | null = null;
  let pending = false;

  const markAll = (): void => {
    pending = false;
    const doc = replayer && replayer.iframe.contentDocument;
    if (!replayer || !doc) return;
    for (const frame of Array.from(doc.getElementsByTagName('iframe'))) {
      const src = unrecordedSource(replayer, frame);
      if (src) mark(frame, src);
    }
  };

  return {
    onBuild(node, { replayer: built }) {
      replayer = built;
      // (rrweb's virtual nodes during a jump have no style: markAll comes after it)
      const element = node as unknown as HTMLElement;
      if (!element.style) return;
      const src = unrecordedSource(built, element);
      if (src) mark(element, src);
    },
    handler(event, isSync, context) {
      replayer = context.replayer;
      const e = event as unknown as Obj;
      const changed = e.type === FULL_SNAPSHOT || (e.type === INCREMENTAL && isObj(e.data) && e.data.source === MUTATION);
      if (!changed || pending) return;
      // After a jump, rrweb's diff into the page is done a task later; while playing, at once.
      if (isSync) {
        pending = true;
        setTimeout(markAll, 0);
      } else {
        markAll();
      }
    },
  };
}
