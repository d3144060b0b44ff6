// Canvas pictures in the replay. rrweb replays canvas events only with UNSAFE_replayCanvas,
// which lets the recorded page run scripts; the player never turns that on. Instead this
// plugin shows, from the player's own script, the whole pictures the recorder sends
// (web/src/canvas.ts; rrweb's own `sampling.canvas` mode sends the same shape) on the canvas
// of the replay, which runs no script: as the background of the canvas's box (fitBox), since
// a browser does not paint a canvas of a document without scripts. Every other canvas command
// is ignored: a picture is a data: URL of its own bytes (an image type checked), never an
// address to load.

import type { ReplayPlugin, Replayer } from 'rrweb';

const FULL_SNAPSHOT = 2;
const INCREMENTAL = 3;
const MUTATION = 0;
const CANVAS_MUTATION = 9;
/** About 1.5 MB of image: what the recorder sends at most. */
const MAX_BASE64_CHARS = 2_100_000;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const IMAGE_TYPES = new Set(['image/webp', 'image/png', 'image/jpeg']);

interface Picture {
  id: number;
  base64: string;
  type: string;
}

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

function isMutation(event: Obj): boolean {
  return event.type === INCREMENTAL && isObj(event.data) && event.data.source === MUTATION;
}

/** The whole picture a canvas event carries, or null for anything else. */
export function pictureOf(event: unknown): Picture | null {
  if (!isObj(event) || event.type !== INCREMENTAL || !isObj(event.data)) return null;
  const data = event.data;
  if (data.source !== CANVAS_MUTATION || typeof data.id !== 'number' || !Array.isArray(data.commands)) return null;
  for (const command of data.commands) {
    if (!isObj(command) || command.property !== 'drawImage' || !Array.isArray(command.args)) continue;
    const bitmap = command.args[0];
    if (!isObj(bitmap) || bitmap.rr_type !== 'ImageBitmap' || !Array.isArray(bitmap.args)) continue;
    const blob = bitmap.args[0];
    if (!isObj(blob) || blob.rr_type !== 'Blob' || !Array.isArray(blob.data)) continue;
    const buffer = blob.data[0];
    const type = typeof blob.type === 'string' ? blob.type : '';
    if (!isObj(buffer) || buffer.rr_type !== 'ArrayBuffer' || !IMAGE_TYPES.has(type)) continue;
    const base64 = buffer.base64;
    if (typeof base64 !== 'string' || !base64 || base64.length > MAX_BASE64_CHARS) continue;
    // Only base64's own characters: the picture goes into a CSS url("data:…"), which a quote
    // or a bracket could otherwise leave (to add an address to load).
    if (!BASE64.test(base64)) continue;
    return { id: data.id, base64, type };
  }
  return null;
}

/**
 * The replay runs no script, and a browser shows a `<canvas>` of a document without scripts as
 * its fallback content: not a picture of its own size but an empty box (nothing at all when
 * inline). So each canvas of the replay gets back the box it had on the visitor's page (its
 * `width` × `height`, or the page's CSS size with that aspect ratio) and shows its picture as
 * the box's background.
 */
const fitted = new WeakMap<HTMLCanvasElement, string>();
/** The box properties the player set on each canvas, and their values. */
const set = new WeakMap<HTMLCanvasElement, Record<string, string>>();

function isCanvas(node: unknown): node is HTMLCanvasElement {
  return !!node && (node as Node).nodeName === 'CANVAS';
}

/** Whether the page's own CSS leaves this size of the canvas to its `width`/`height`. */
function autoSize(canvas: HTMLCanvasElement, property: 'width' | 'height'): boolean {
  const map = (canvas as unknown as { computedStyleMap?: () => { get(p: string): unknown } }).computedStyleMap;
  if (typeof map !== 'function') return !canvas.style.getPropertyValue(property); // no Typed OM: inline style only
  const value = map.call(canvas).get(property) as { value?: unknown } | null;
  return !!value && value.value === 'auto';
}

/** Gives a replayed canvas its box back (again after the page's style attribute changed). */
function fitBox(canvas: HTMLCanvasElement): void {
  const width = canvas.width;
  const height = canvas.height;
  // Built but not in the page yet (its styles unknown): fitted once it is (fitAll).
  if (fitted.get(canvas) === fitKey(canvas) || !width || !height || !canvas.isConnected) return;
  const style = canvas.style;
  // Only what the player set before (and the page has not set since) is taken back.
  const before = set.get(canvas) || {};
  for (const property of Object.keys(before)) {
    if (style.getPropertyValue(property) === before[property]) style.removeProperty(property);
  }
  const now: Record<string, string> = {};
  const put = (property: string, value: string): void => {
    style.setProperty(property, value);
    now[property] = style.getPropertyValue(property);
  };
  const view = canvas.ownerDocument.defaultView;
  if (view && view.getComputedStyle(canvas).display === 'inline') put('display', 'inline-block');
  const autoWidth = autoSize(canvas, 'width');
  const autoHeight = autoSize(canvas, 'height');
  if (autoWidth && autoHeight) {
    put('width', `${width}px`);
    put('height', `${height}px`);
  } else if (autoWidth || autoHeight) {
    put('aspect-ratio', `${width} / ${height}`);
  }
  set.set(canvas, now);
  fitted.set(canvas, fitKey(canvas));
}

/** What a fitted canvas looked like: fitted again when its size or style changed since. */
function fitKey(canvas: HTMLCanvasElement): string {
  return `${canvas.width}x${canvas.height};${canvas.getAttribute('style') || ''}`;
}

function show(canvas: HTMLCanvasElement, picture: Picture): void {
  fitBox(canvas);
  const style = canvas.style;
  style.setProperty('background-image', `url("data:${picture.type};base64,${picture.base64}")`);
  style.setProperty('background-size', '100% 100%');
  style.setProperty('background-repeat', 'no-repeat');
  fitted.set(canvas, fitKey(canvas));
}

/**
 * The Replayer plugin. Every canvas the replay builds gets its box (fitBox); a canvas event's
 * picture is shown on its canvas. While the Replayer jumps (a seek: events applied at once,
 * `isSync`, partly outside the document), only each canvas's last picture is shown, once the
 * jump is done, and every canvas of the replay is fitted then.
 */
export function canvasPictures(): ReplayPlugin {
  let replayer: Replayer | null = null;
  /** The picture each canvas shows, to show it again when the page's style replaces ours. */
  const shown = new Map<number, Picture>();
  const waiting = new Map<number, Picture>();
  let flushing = false;

  const canvasOf = (id: number): HTMLCanvasElement | null => {
    const node = replayer ? replayer.getMirror().getNode(id) : null;
    return isCanvas(node) ? node : null;
  };

  const fitAll = (): void => {
    const doc = replayer && replayer.iframe.contentDocument;
    if (doc) for (const canvas of Array.from(doc.getElementsByTagName('canvas'))) fitBox(canvas);
  };

  const later = (): void => {
    if (flushing) return;
    flushing = true;
    setTimeout(flush, 0); // the jump (and rrweb's diff into the page) is done by then
  };

  const flush = (): void => {
    flushing = false;
    fitAll();
    for (const picture of waiting.values()) {
      const canvas = canvasOf(picture.id);
      if (canvas) show(canvas, picture);
    }
    waiting.clear();
  };

  return {
    onBuild(node) {
      if (isCanvas(node)) fitBox(node);
    },
    handler(event, isSync, context) {
      replayer = context.replayer;
      const picture = pictureOf(event);
      if (!picture) {
        // The page was built, or changed: canvases it added are fitted, and a canvas whose
        // style or size the recording changed (replacing what the player had set) again.
        if (isObj(event) && (event.type === FULL_SNAPSHOT || isMutation(event))) {
          if (isSync) later();
          else {
            fitAll();
            if (shown.size) refit(event);
          }
        }
        return;
      }
      shown.set(picture.id, picture);
      if (!isSync) {
        waiting.delete(picture.id);
        const canvas = canvasOf(picture.id);
        if (canvas) show(canvas, picture);
        return;
      }
      waiting.set(picture.id, picture);
      later();
    },
  };

  /** Shows again the picture of a canvas whose style attribute the recording replaced. */
  function refit(event: Obj): void {
    const data = event.data as Obj;
    if (!Array.isArray(data.attributes)) return;
    for (const change of data.attributes) {
      const id = isObj(change) ? change.id : undefined;
      const picture = typeof id === 'number' ? shown.get(id) : undefined;
      const canvas = picture ? canvasOf(picture.id) : null;
      if (canvas && picture && !canvas.style.getPropertyValue('background-image')) show(canvas, picture);
    }
  }
}
