// inert.ts — makes a recording inert before the Replayer sees it.
//
// A recording is data from a stranger's browser: anyone can send one to the public ingest
// endpoint, so its DOM may carry scripts, inline handlers, javascript: URLs, srcdoc frames,
// meta refreshes, <base>, forms and SVG scripts. Three layers keep them from reaching whoever
// watches it:
//   1. the replay iframe is sandboxed with no scripts, forms, popups or top navigation
//      (rrweb's `allow-same-origin` sandbox; `guardFrame` checks it and makes the frame inert,
//      so no click or key reaches the replayed page);
//   2. every page that shows a replay sends a strict Content-Security-Policy, which the
//      about:blank replay frame inherits (no inline script, no <base>, no frames or plugins);
//   3. `neutralise` below takes out, before replay, everything in the events that could run
//      script, navigate, or load a document: each layer alone holds.
// The stored events are left as recorded; the player is where they become a page again.

interface SerializedNode {
  type: number;
  id?: number;
  tagName?: string;
  isSVG?: boolean;
  attributes?: Record<string, unknown>;
  childNodes?: SerializedNode[];
}

interface Event {
  type: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data?: any;
}

const EV_FULL_SNAPSHOT = 2;
const EV_INCREMENTAL = 3;
const SRC_MUTATION = 0;
const NODE_ELEMENT = 2;

/** Attributes whose value is a URL that a click, a submit or the element itself may follow. */
const NAVIGATING = new Set(['href', 'xlink:href', 'action', 'formaction']);
/** Attributes whose value is a URL the element loads by itself. */
const LOADING = new Set(['src', 'data', 'poster', 'background', 'codebase', 'lowsrc', 'dynsrc', 'ping', 'manifest', 'cite']);

/**
 * Attributes dropped from these elements whatever they hold: none of them is needed to show
 * the page (rrweb records a frame's document, not its address; a replay never submits a form)
 * and each could load a document or change where the page's URLs lead.
 */
const DROPPED: Record<string, Set<string>> = {
  base: new Set(['href', 'target']),
  iframe: new Set(['src', 'srcdoc']),
  frame: new Set(['src']),
  object: new Set(['data', 'codebase', 'classid', 'archive', 'type']),
  embed: new Set(['src', 'code', 'type']),
  applet: new Set(['code', 'codebase', 'archive', 'object']),
  portal: new Set(['src']),
  form: new Set(['action', 'target']),
  button: new Set(['formaction', 'formtarget']),
  input: new Set(['formaction', 'formtarget']),
  meta: new Set(['http-equiv']), // refresh, set-cookie, a policy of the recorded page…
};
/** `<link rel>` values that fetch or run something besides a stylesheet or an icon. */
const FETCHING_RELS = /\b(preload|modulepreload|prefetch|prerender|import|preconnect|dns-prefetch|serviceworker)\b/i;
/** SVG elements that could set an attribute (a handler, a URL) on their parent. */
const ANIMATIONS = new Set(['animate', 'set', 'animatemotion', 'animatetransform', 'animatecolor']);

/** "java\tscript:" and " JAVASCRIPT:" are javascript: URLs too: browsers drop these characters. */
function scheme(value: string): string {
  // eslint-disable-next-line no-control-regex
  const compact = value.replace(/[\u0000-\u0020\u007f-\u00a0]/g, '').toLowerCase();
  const colon = compact.indexOf(':');
  return colon > 0 ? compact.slice(0, colon) : '';
}

function isScriptURL(value: string): boolean {
  const s = scheme(value);
  return s === 'javascript' || s === 'vbscript';
}

/** Whether an attribute (its lowercased name) of a `tag` element must not reach the replay. */
export function isDangerous(tag: string, name: string, value: unknown, node?: SerializedNode): boolean {
  if (name.startsWith('on')) return true; // inline handlers: onerror, onload, ontoggle…
  if (name === 'srcdoc' || name === 'xml:base') return true;
  if (DROPPED[tag]?.has(name)) return true;
  if (tag === 'script') return true; // rrweb replays it as an inert <noscript>; keep nothing of it
  if (typeof value !== 'string') return false;
  if (NAVIGATING.has(name)) {
    if (isScriptURL(value) || scheme(value) === 'data') return true;
    if (tag === 'use' && !value.trim().startsWith('#')) return true; // only same-document <use>
    if (tag === 'link' && FETCHING_RELS.test(String(node?.attributes?.rel ?? ''))) return true;
    return false;
  }
  if (LOADING.has(name)) return isScriptURL(value);
  if (name === 'rr_dataurl') return !value.startsWith('data:image/');
  if (ANIMATIONS.has(tag) && name === 'attributename') {
    const target = value.trim().toLowerCase();
    return target.startsWith('on') || NAVIGATING.has(target) || LOADING.has(target) || target === 'srcdoc';
  }
  return false;
}

class Neutraliser {
  /** Tag names by node id, for attribute mutations (which carry only the id). */
  private readonly tags = new Map<number, string>();

  event(e: Event): void {
    if (!e.data) return;
    if (e.type === EV_FULL_SNAPSHOT) this.node(e.data.node);
    else if (e.type === EV_INCREMENTAL && e.data.source === SRC_MUTATION) {
      for (const add of Array.isArray(e.data.adds) ? e.data.adds : []) this.node(add && add.node);
      for (const change of Array.isArray(e.data.attributes) ? e.data.attributes : []) this.attributes(change);
    }
  }

  private node(node: SerializedNode | undefined): void {
    if (!node || typeof node !== 'object') return;
    if (node.type === NODE_ELEMENT && typeof node.tagName === 'string') {
      const tag = node.tagName.toLowerCase();
      if (typeof node.id === 'number') this.tags.set(node.id, tag);
      const attributes = node.attributes && typeof node.attributes === 'object' ? node.attributes : {};
      for (const name of Object.keys(attributes)) {
        if (isDangerous(tag, name.toLowerCase(), attributes[name], node)) delete attributes[name];
      }
      // rrweb turns <script> into <noscript> itself; this keeps it so should rrweb ever not.
      if (tag === 'script') node.tagName = 'noscript';
    }
    if (Array.isArray(node.childNodes)) for (const child of node.childNodes) this.node(child);
  }

  private attributes(change: { id?: number; attributes?: Record<string, unknown> } | null): void {
    if (!change || !change.attributes || typeof change.attributes !== 'object') return;
    const tag = (typeof change.id === 'number' && this.tags.get(change.id)) || '';
    const node: SerializedNode = { type: NODE_ELEMENT, tagName: tag, attributes: change.attributes };
    for (const name of Object.keys(change.attributes)) {
      const value = change.attributes[name];
      // A removal (null) is always fine; anything dangerous is removed rather than set.
      if (value !== null && isDangerous(tag, name.toLowerCase(), value, node)) change.attributes[name] = null;
    }
  }
}

/** Takes out of the events, in place, everything that could run script or navigate. */
export function neutralise<T extends Event>(events: T[]): T[] {
  const neutraliser = new Neutraliser();
  for (const e of events) if (e && typeof e === 'object') neutraliser.event(e);
  return events;
}

/**
 * Checks the Replayer's iframe: exactly rrweb's `allow-same-origin` sandbox (no
 * `allow-scripts`, forms, popups or top navigation), or the replay must not start. Then
 * makes the frame inert: no focus, no click and no key reaches the replayed page (rrweb only
 * turns off its pointer events, and Tab still walked into its links).
 */
export function guardFrame(frame: HTMLIFrameElement): void {
  const tokens = Array.from(frame.sandbox);
  if (!frame.hasAttribute('sandbox') || tokens.length !== 1 || tokens[0] !== 'allow-same-origin') {
    throw new Error(`the replay frame is not sandboxed as expected (sandbox="${frame.getAttribute('sandbox')}")`);
  }
  frame.inert = true;
  frame.tabIndex = -1;
}
