// Canvas pictures for the recording: charts, maps and editors drawn on <canvas> (2D or WebGL)
// have no DOM to record, so a few times a second each canvas the recording shows (and the
// visitor sees: in the window, not hidden, not blocked or masked) is copied
// as an image (createImageBitmap, then encoded off the page's thread by OffscreenCanvas) and,
// when it changed, recorded as rrweb's canvas event (the shape rrweb's own `sampling.canvas`
// mode gives: clear, then draw the image). The player draws it from outside its sandbox
// (web/src/canvasreplay.ts).
//
// A WebGL canvas without preserveDrawingBuffer holds its picture only during the frame it is
// drawn in, so copies are taken in an animation frame, after the page's own drawing: a scene
// drawn on every frame is copied; one drawn once and left reads empty and is not recorded.
//
// Not rrweb's own canvas recording: that clears WebGL canvases before copying them (the site
// flickers) and starts a Worker from a blob: address (refused by many sites' CSP).

/** rrweb's numbers for a canvas event. */
const INCREMENTAL = 3;
const CANVAS_MUTATION = 9;
const CONTEXT_2D = 0;
/** WebP keeps a chart's lines sharp at a fraction of PNG's size; where WebP cannot be encoded the browser gives PNG. */
const IMAGE_TYPE = 'image/webp';
const IMAGE_QUALITY = 0.7;
/** A canvas larger than this (in pixels) is not copied: a full-screen game would cost too much. */
const MAX_PIXELS = 4096 * 4096;
/** Bytes of one encoded picture above which it is not recorded. */
const MAX_IMAGE_BYTES = 1_500_000;

export interface CanvasEvent {
  type: number;
  data: {
    source: number;
    id: number;
    type: number;
    commands: { property: string; args: unknown[] }[];
  };
  timestamp: number;
}

export interface CanvasCapture {
  /** Frames per second, at most. */
  fps: number;
  /** rrweb's id of a canvas in the recording, or a number < 1 when it is not recorded. */
  idOf(canvas: HTMLCanvasElement): number;
  /** Never copied: canvases inside elements that match (blocked and masked areas). */
  excluded: string;
  /** Whether copying may happen now (a page view that is sending). */
  active(): boolean;
  /** A canvas showed a new picture. */
  emit(event: CanvasEvent): void;
}

/** Starts copying the document's canvases; returns the function that stops it. */
export function captureCanvases(doc: Document, options: CanvasCapture): () => void {
  if (typeof createImageBitmap !== 'function' || typeof OffscreenCanvas === 'undefined') return () => undefined;
  const busy = new Set<HTMLCanvasElement>();
  // The last picture of each canvas (its bytes), to record only changes; forgotten with it.
  const last = new WeakMap<HTMLCanvasElement, Uint8Array>();
  let stopped = false;

  const copy = async (canvas: HTMLCanvasElement, id: number): Promise<void> => {
    const width = canvas.width;
    const height = canvas.height;
    const bitmap = await createImageBitmap(canvas); // the canvas as it is at this call
    if (blank(bitmap)) {
      bitmap.close();
      return;
    }
    const offscreen = new OffscreenCanvas(width, height);
    const context = offscreen.getContext('bitmaprenderer');
    if (!context) {
      bitmap.close();
      return;
    }
    context.transferFromImageBitmap(bitmap);
    const blob = await offscreen.convertToBlob({ type: IMAGE_TYPE, quality: IMAGE_QUALITY });
    if (stopped || blob.size > MAX_IMAGE_BYTES) return;
    const bytes = new Uint8Array(await blob.arrayBuffer());
    if (sameBytes(last.get(canvas), bytes)) return;
    last.set(canvas, bytes);
    if (!options.active()) return;
    options.emit(canvasEvent(id, width, height, blob.type || IMAGE_TYPE, base64(bytes)));
  };

  const tick = (): void => {
    if (stopped || doc.visibilityState === 'hidden' || !options.active()) return;
    const canvases = doc.getElementsByTagName('canvas');
    const view = doc.defaultView;
    if (!view) return;
    const due: [HTMLCanvasElement, number][] = [];
    for (let i = 0; i < canvases.length; i++) {
      const canvas = canvases[i];
      if (busy.has(canvas) || !canvas.isConnected) continue;
      const pixels = canvas.width * canvas.height;
      if (!pixels || pixels > MAX_PIXELS) continue;
      const id = options.idOf(canvas);
      if (!(id > 0) || canvas.closest(options.excluded) || !onScreen(canvas, view)) continue;
      busy.add(canvas);
      due.push([canvas, id]);
    }
    if (!due.length) return;
    // Copied in the next frame, after the page's own drawing in it: a WebGL canvas (without
    // preserveDrawingBuffer) holds its picture only until the frame is shown.
    let framed = false;
    view.setTimeout(() => {
      if (!framed) for (const [canvas] of due) busy.delete(canvas); // no frame came (hidden)
    }, 1000);
    view.requestAnimationFrame(() => {
      framed = true;
      for (const [canvas, id] of due) {
        copy(canvas, id)
          .catch(() => undefined) // a tainted (cross-origin) canvas cannot be read: never recorded
          .then(() => busy.delete(canvas));
      }
    });
  };

  const timer = setInterval(tick, Math.max(100, Math.round(1000 / options.fps)));
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** rrweb's canvas event for one whole picture: clear the canvas, draw the image at 0, 0. */
export function canvasEvent(id: number, width: number, height: number, type: string, base64Data: string): CanvasEvent {
  return {
    type: INCREMENTAL,
    data: {
      source: CANVAS_MUTATION,
      id,
      type: CONTEXT_2D,
      commands: [
        { property: 'clearRect', args: [0, 0, width, height] },
        {
          property: 'drawImage',
          args: [
            { rr_type: 'ImageBitmap', args: [{ rr_type: 'Blob', data: [{ rr_type: 'ArrayBuffer', base64: base64Data }], type }] },
            0,
            0,
          ],
        },
      ],
    },
    timestamp: Date.now(),
  };
}

/**
 * Whether a picture is empty (every pixel transparent), judged on a 16 × 16 copy. An empty
 * picture is not recorded: it is what a WebGL canvas gives when read after its frame was
 * shown, and the replay keeps the canvas's last real picture instead.
 */
function blank(bitmap: ImageBitmap): boolean {
  const small = new OffscreenCanvas(16, 16).getContext('2d');
  if (!small) return false;
  small.drawImage(bitmap, 0, 0, 16, 16);
  const pixels = small.getImageData(0, 0, 16, 16).data;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return false;
  return true;
}

/** Whether any of the canvas is in the window: what the visitor cannot see is not copied. */
function onScreen(canvas: HTMLCanvasElement, view: Window | null): boolean {
  if (!view) return false;
  const box = canvas.getBoundingClientRect();
  return box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0 && box.top < view.innerHeight && box.left < view.innerWidth;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function base64(bytes: Uint8Array): string {
  let binary = '';
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + step)));
  }
  return btoa(binary);
}
