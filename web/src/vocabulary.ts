// vocabulary.ts — what the browser and the server both speak: rrweb's numbers, the custom
// events footage.js adds, what counts as visitor activity, and the frustration signals' kinds
// and names. The server's side is footage/rrweb.py and footage/signals.py;
// tests/test_vocabulary_parity.py fails when the two differ. Names follow rrweb's enums
// (EventType, IncrementalSource, MouseInteractions; rrweb-snapshot's NodeType with NODE_) in
// upper case; rrweb's own enums are not imported, as they would drag more of rrweb in.

// rrweb's EventType: what an event is.
export const DOM_CONTENT_LOADED = 0;
export const LOAD = 1;
export const FULL_SNAPSHOT = 2;
export const INCREMENTAL = 3; // IncrementalSnapshot: its `data.source` says what changed
export const META = 4;
export const CUSTOM = 5;
export const PLUGIN = 6;

// rrweb's IncrementalSource: what an incremental snapshot records.
export const MUTATION = 0;
export const MOUSE_MOVE = 1;
export const MOUSE_INTERACTION = 2;
export const SCROLL = 3;
export const VIEWPORT_RESIZE = 4;
export const INPUT = 5;
export const TOUCH_MOVE = 6;
export const MEDIA_INTERACTION = 7;
export const STYLE_SHEET_RULE = 8;
export const CANVAS_MUTATION = 9;
export const FONT = 10;
export const LOG = 11;
export const DRAG = 12;
export const STYLE_DECLARATION = 13;
export const SELECTION = 14;
export const ADOPTED_STYLE_SHEET = 15;
export const CUSTOM_ELEMENT = 16;

// rrweb's MouseInteractions: the `data.type` of a MOUSE_INTERACTION (the kinds used here).
export const CLICK = 2;
export const CONTEXT_MENU = 3;
export const DBL_CLICK = 4;
export const TOUCH_END = 9;

// rrweb-snapshot's NodeType: what a node of a snapshot or a mutation is.
export const NODE_DOCUMENT = 0;
export const NODE_DOCUMENT_TYPE = 1;
export const NODE_ELEMENT = 2;
export const NODE_TEXT = 3;
export const NODE_CDATA = 4;
export const NODE_COMMENT = 5;

/** A click as PostHog counts it: Click, ContextMenu, DblClick or TouchEnd. */
export const CLICKS: ReadonlySet<number> = /* @__PURE__ */ new Set([CLICK, CONTEXT_MENU, DBL_CLICK, TOUCH_END]);

/** The tags of the custom events footage.js adds: a JavaScript error, and footage('event', …). */
export const ERROR_TAG = 'footage.error';
export const EVENT_TAG = 'footage.event';

/**
 * Visitor activity, as PostHog defines it for active time: the sources that are the visitor's
 * own doing. The summary's active time, the player's inactive stretches and the MP4's skipped
 * idle time all use this one set.
 */
export const ACTIVE_SOURCES: ReadonlySet<number> = /* @__PURE__ */ new Set([
  MOUSE_MOVE,
  MOUSE_INTERACTION,
  SCROLL,
  VIEWPORT_RESIZE,
  INPUT,
  TOUCH_MOVE,
  MEDIA_INTERACTION,
  DRAG,
]);
/** A stretch longer than this without activity is inactive. */
export const INACTIVE_AFTER_MS = 5000;

/** An rrweb event as stored: only what these checks read. */
export interface VocabularyEvent {
  type: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data?: any;
}

/** Whether the event is the visitor's own activity (ACTIVE_SOURCES). */
export function isActivity(e: VocabularyEvent): boolean {
  return e.type === INCREMENTAL && !!e.data && ACTIVE_SOURCES.has(e.data.source);
}

/** Whether the event is a click as PostHog counts it (CLICKS). */
export function isClick(e: VocabularyEvent): boolean {
  return e.type === INCREMENTAL && !!e.data && e.data.source === MOUSE_INTERACTION && CLICKS.has(e.data.type);
}

// ---- frustration signals ----------------------------------------------------------------

export type SignalKind = 'rage_click' | 'dead_click' | 'error_click' | 'quick_back' | 'excessive_scroll';

/** A signal's names in the user's words: one of them, and several (or as a heading). */
export interface SignalNames {
  label: string;
  plural: string;
}

/** The frustration signals in the order they are shown. */
export const SIGNALS: Readonly<Record<SignalKind, SignalNames>> = {
  rage_click: { label: 'Rage click', plural: 'Rage clicks' },
  dead_click: { label: 'Dead click', plural: 'Dead clicks' },
  error_click: { label: 'Error click', plural: 'Error clicks' },
  quick_back: { label: 'Quick back', plural: 'Quick backs' },
  excessive_scroll: { label: 'Excessive scrolling', plural: 'Excessive scrolling' },
};
