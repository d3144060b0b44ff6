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
// The replay frame is on Footage's own origin, so an image, stylesheet, font or poster of the
// replayed page that points at Footage itself (`<img src="/api/v1/recordings/…/download">`)
// would be a request with the viewer's login cookie. The server refuses such loads
// (footage/web/fetch_metadata.py: no login on requests a page loads by itself), and
// `neutralise` also takes out every such URL before replay (`ownURLs`), except those of
// Footage's public files (/static/, the demo shop's /demo/), which need no login.
// The stored events are left as recorded; the player is where they become a page again.

import {
  ADOPTED_STYLE_SHEET,
  CANVAS_MUTATION,
  FONT,
  FULL_SNAPSHOT,
  INCREMENTAL,
  MUTATION,
  NODE_ELEMENT,
  NODE_TEXT,
  STYLE_DECLARATION,
  STYLE_SHEET_RULE,
} from './vocabulary';
import { KeptCopies } from './kept';

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
const FETCHING_RELS =
  /\b(preload|modulepreload|prefetch|prerender|import|preconnect|dns-prefetch|serviceworker|compression-dictionary|dictionary)\b/i;
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
  // Requests sent in the background (a link's pings, attribution reports): never needed to
  // show a page, and made like our own scripts' requests (Sec-Fetch-Dest: empty).
  if (name === 'ping' || name === 'attributionsrc') return true;
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

/**
 * Finds the URLs of a replayed page that point at Footage itself. A recorded page is never
 * served by Footage (but for the demo shop, whose files are public), so such a URL is either
 * crafted or broken, and dropping it costs the replay nothing.
 */
export class OwnURLs {
  /** Footage's own origin (the page that plays the replay); null where there is no server
   * to reach (the HTML download opened from disk). */
  readonly origin: string | null;
  private readonly base: string;

  constructor(base: string = location.href) {
    let origin: string | null = null;
    try {
      const url = new URL(base);
      if (url.protocol === 'http:' || url.protocol === 'https:') origin = url.origin;
    } catch {
      origin = null;
    }
    this.origin = origin;
    this.base = base;
  }

  /** Whether a URL (relative ones resolve against the player's page, as in the replay frame,
   * which is about:blank) leads to Footage, outside the files that need no login. */
  isOwn(value: string): boolean {
    if (this.origin === null) return false;
    let url: URL;
    try {
      url = new URL(value, this.base); // the browser's own parser: `\`, `..`, tabs, %2e…
    } catch {
      return false; // a URL the browser cannot parse is never fetched
    }
    if (url.origin !== this.origin) return false;
    return !PUBLIC_PATHS.some((path) => url.pathname.startsWith(path));
  }

  /** The URLs of a `srcset` (the HTML standard's parsing: a URL ends at whitespace, and
   * commas separate candidates only outside a descriptor's parentheses). */
  static srcset(value: string): string[] {
    const urls: string[] = [];
    let i = 0;
    while (i < value.length) {
      while (i < value.length && /[\s,]/.test(value[i])) i++;
      let j = i;
      while (j < value.length && !/\s/.test(value[j])) j++;
      let url = value.slice(i, j);
      i = j;
      if (url.endsWith(',')) {
        url = url.replace(/,+$/, '');
      } else {
        let depth = 0;
        for (; i < value.length; i++) {
          const c = value[i];
          if (c === '(') depth++;
          else if (c === ')') depth = Math.max(0, depth - 1);
          else if (c === ',' && depth === 0) break;
        }
      }
      if (url) urls.push(url);
    }
    return urls;
  }

  /** Whether an attribute's value would make the element load or lead to Footage. */
  attribute(name: string, value: unknown): boolean {
    if (typeof value !== 'string') return false;
    if (name === 'srcset' || name === 'imagesrcset') return OwnURLs.srcset(value).some((url) => this.isOwn(url));
    return (URL_ATTRIBUTES.has(name) || NAVIGATING.has(name) || LOADING.has(name)) && this.isOwn(value);
  }

  /** CSS text with every `url()`, `@import` and `image-set()`/`src()` string that leads to
   * Footage replaced by a URL that loads nothing. A `url()` written with CSS escapes is
   * replaced wherever it leads (nothing real needs them; they would hide the address). */
  css(text: string): string {
    if (this.origin === null || typeof text !== 'string') return text;
    const own = (url: string): boolean => url.includes('\\') || this.isOwn(url);
    return text
      .replace(CSS_URL_ESCAPED, NOWHERE)
      .replace(CSS_URL, (match: string, dq?: string, sq?: string, bare?: string) =>
        own(dq ?? sq ?? bare ?? '') ? NOWHERE : match,
      )
      .replace(CSS_IMPORT, (match: string, _quote: string, url: string) => (own(url) ? `@import ${NOWHERE}` : match))
      .replace(CSS_STRING_FUNCTIONS, (match: string) =>
        match.replace(CSS_STRING, (s: string, _quote: string, url: string) => (own(url) ? '"about:invalid"' : s)),
      );
  }
}

/** Footage's files that need no login: its bundles and styles, the demo shop (whose
 * recordings legitimately show its images) and the copies of assets kept with recordings. */
const PUBLIC_PATHS = ['/static/', '/demo/', '/site-assets/'];
/** Other attributes holding a URL the element loads. */
const URL_ATTRIBUTES = new Set(['href', 'src', 'xlink:href', 'poster', 'background', 'longdesc', 'icon']);
/** What a URL to Footage becomes in CSS: about: URLs are never fetched. */
const NOWHERE = 'url("about:invalid")';
const CSS_URL = /url\(\s*(?:"((?:[^"\\\n]|\\[\s\S])*)"|'((?:[^'\\\n]|\\[\s\S])*)'|((?:[^'"()\s\\]|\\[\s\S])*))\s*\)/gi;
/** A url() whose address holds a CSS escape, which the pattern above may not take apart. */
const CSS_URL_ESCAPED = /url\([^)]*\\[^)]*\)/gi;
const CSS_IMPORT = /@import\s+(["'])([^"'\n]*)\1/gi;
const CSS_STRING_FUNCTIONS = /(?:-webkit-)?(?:image-set|src)\([^)]*\)/gi;
const CSS_STRING = /(["'])([^"'\n]*)\1/g;

/** A style attribute changed by a mutation: a string, or rrweb's {property: value} diff. */
function styleValue(value: unknown, css: (text: string) => string): unknown {
  if (typeof value === 'string') return css(value);
  if (!value || typeof value !== 'object') return value;
  const diff = value as Record<string, unknown>;
  for (const property of Object.keys(diff)) {
    const v = diff[property];
    if (typeof v === 'string') diff[property] = css(v);
    else if (Array.isArray(v) && typeof v[0] === 'string') v[0] = css(v[0]);
  }
  return diff;
}

/** Attributes whose address a kept copy replaces (a link's `href` only on a stylesheet or icon). */
const KEPT_ATTRIBUTES = new Set(['src', 'poster', 'background']);

class Neutraliser {
  /** Tag names by node id, for attribute mutations (which carry only the id). */
  private readonly tags = new Map<number, string>();
  /** Text nodes inside <style>: their text is CSS. */
  private readonly styleTexts = new Set<number>();

  private readonly css: (text: string) => string;

  constructor(
    private readonly own: OwnURLs,
    private readonly kept: KeptCopies = new KeptCopies({}),
  ) {
    this.css = kept.empty ? (text) => own.css(text) : (text) => kept.css(own.css(text));
  }

  /** An attribute's value with a kept copy in place of the site's address. */
  private keptValue(tag: string, name: string, value: unknown): unknown {
    if (this.kept.empty || typeof value !== 'string') return value;
    if (KEPT_ATTRIBUTES.has(name) || (name === 'href' && tag === 'link')) return this.kept.url(value);
    if (name === 'srcset' || name === 'imagesrcset') return this.kept.srcset(value);
    return value;
  }

  event(e: Event): void {
    const data = e.data;
    if (!data || typeof data !== 'object') return;
    if (e.type === FULL_SNAPSHOT) this.node(data.node, '');
    else if (e.type !== INCREMENTAL) return;
    else if (data.source === MUTATION) {
      for (const add of Array.isArray(data.adds) ? data.adds : []) {
        if (add && typeof add === 'object') this.node(add.node, (typeof add.parentId === 'number' && this.tags.get(add.parentId)) || '');
      }
      for (const change of Array.isArray(data.attributes) ? data.attributes : []) this.attributes(change);
      for (const text of Array.isArray(data.texts) ? data.texts : []) {
        if (text && typeof text.value === 'string' && this.styleTexts.has(text.id)) text.value = this.css(text.value);
      }
    } else if (data.source === STYLE_SHEET_RULE) {
      this.rules(data);
    } else if (data.source === ADOPTED_STYLE_SHEET) {
      for (const sheet of Array.isArray(data.styles) ? data.styles : []) if (sheet) this.rules(sheet);
    } else if (data.source === STYLE_DECLARATION) {
      if (data.set && typeof data.set.value === 'string') data.set.value = this.css(data.set.value);
    } else if (data.source === FONT) {
      if (!data.buffer && typeof data.fontSource === 'string') data.fontSource = this.css(data.fontSource);
    } else if (data.source === CANVAS_MUTATION) {
      this.canvas(data, 0);
    }
  }

  private node(node: SerializedNode | undefined, parentTag: string): void {
    if (!node || typeof node !== 'object') return;
    if (node.type === NODE_TEXT) {
      const text = node as SerializedNode & { textContent?: unknown; isStyle?: boolean };
      if (parentTag === 'style' || text.isStyle) {
        if (typeof node.id === 'number') this.styleTexts.add(node.id);
        if (typeof text.textContent === 'string') text.textContent = this.css(text.textContent);
      }
    }
    let tag = '';
    if (node.type === NODE_ELEMENT && typeof node.tagName === 'string') {
      tag = node.tagName.toLowerCase();
      if (typeof node.id === 'number') this.tags.set(node.id, tag);
      const attributes = node.attributes && typeof node.attributes === 'object' ? node.attributes : {};
      for (const name of Object.keys(attributes)) {
        const lower = name.toLowerCase();
        const value = attributes[name];
        if (isDangerous(tag, lower, value, node) || this.own.attribute(lower, value)) delete attributes[name];
        else if (lower === 'style' || lower === '_csstext') attributes[name] = styleValue(value, this.css);
        else attributes[name] = this.keptValue(tag, lower, value);
      }
      // rrweb turns <script> into <noscript> itself; this keeps it so should rrweb ever not.
      if (tag === 'script') node.tagName = 'noscript';
    }
    if (Array.isArray(node.childNodes)) for (const child of node.childNodes) this.node(child, tag);
  }

  private attributes(change: { id?: number; attributes?: Record<string, unknown> } | null): void {
    if (!change || !change.attributes || typeof change.attributes !== 'object') return;
    const tag = (typeof change.id === 'number' && this.tags.get(change.id)) || '';
    const node: SerializedNode = { type: NODE_ELEMENT, tagName: tag, attributes: change.attributes };
    for (const name of Object.keys(change.attributes)) {
      const lower = name.toLowerCase();
      const value = change.attributes[name];
      if (value === null) continue; // a removal is always fine
      // Anything dangerous, or leading to Footage, is removed rather than set.
      if (isDangerous(tag, lower, value, node) || this.own.attribute(lower, value)) change.attributes[name] = null;
      else if (lower === 'style' || lower === '_csstext') change.attributes[name] = styleValue(value, this.css);
      else change.attributes[name] = this.keptValue(tag, lower, value);
    }
  }

  /** A stylesheet's inserted rules, or its whole text replaced (constructable sheets). */
  private rules(data: { adds?: unknown; rules?: unknown; replace?: unknown; replaceSync?: unknown }): void {
    for (const list of [data.adds, data.rules]) {
      for (const add of Array.isArray(list) ? list : []) {
        if (add && typeof add.rule === 'string') add.rule = this.css(add.rule);
      }
    }
    if (typeof data.replace === 'string') data.replace = this.css(data.replace);
    if (typeof data.replaceSync === 'string') data.replaceSync = this.css(data.replaceSync);
  }

  /** Canvas commands can draw an image by its URL (rrweb makes an Image of it in the player's
   * page): one that leads to Footage draws nothing. */
  private canvas(value: unknown, depth: number): void {
    if (!value || typeof value !== 'object' || depth > 20) return;
    const record = value as Record<string, unknown>;
    if (record.rr_type === 'HTMLImageElement' && typeof record.src === 'string' && this.own.isOwn(record.src)) {
      record.src = '';
    }
    for (const key of Object.keys(record)) this.canvas(record[key], depth + 1);
  }
}

/**
 * Takes out of the events, in place, everything that could run script or navigate, and every
 * URL that leads to Footage itself (`base`: the page that plays them); then puts the copies
 * kept with the recording (`kept`) in place of the site's addresses they stand for.
 */
export function neutralise<T extends Event>(
  events: T[],
  base: string = location.href,
  kept: KeptCopies = new KeptCopies({}),
): T[] {
  const neutraliser = new Neutraliser(new OwnURLs(base), kept);
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
