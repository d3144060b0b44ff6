// The masks: what of a page, its typed text and its addresses a recording may keep.
//
// A line-by-line mirror of footage/privacy/masking.py, whose docstring defines every rule. The
// recorder applies them here before sending; the server applies the very same rules again
// before storing, and both must produce identical output: change them together.
//
// In short (True = recorded, False = masked; all three default to false):
//   forms    typed values (inputs, textareas, selects, contenteditable areas)
//   numbers  digits (Unicode decimal digits, from the fixed table below)
//   emails   e-mail addresses: [A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+ then '@' or '%40' then
//            labels [A-Za-z0-9-]+ joined by '.', at least two; every maximal such span
// Passwords and whatever sits inside data-recording-ignore="mask" are masked whatever the
// rules. A masked character becomes '*', one per character (code point).
//
// Pure functions: no DOM, no I/O. Nothing here may throw into the host page: scrubEvent never
// raises on malformed events (and masks every string of an event whose walk fails anyway).

import {
  CUSTOM,
  DOM_CONTENT_LOADED,
  DRAG,
  EVENT_TAG,
  FULL_SNAPSHOT,
  INCREMENTAL,
  INPUT,
  LOAD,
  MEDIA_INTERACTION,
  META,
  MOUSE_INTERACTION,
  MOUSE_MOVE,
  MUTATION,
  NODE_CDATA,
  NODE_COMMENT,
  NODE_DOCUMENT,
  NODE_ELEMENT,
  NODE_TEXT,
  PLUGIN,
  SCROLL,
  SELECTION,
  TOUCH_MOVE,
  VIEWPORT_RESIZE,
} from './vocabulary';

/** What a site records. true: it IS recorded; false: it is masked. */
export interface MaskRules {
  forms: boolean;
  numbers: boolean;
  emails: boolean;
  /**
   * With numbers masked: every digit of the page's text (true), or only the numbers that
   * identify people (false or absent, the default: see maskPersonalNumbers). Typed digits are
   * all masked either way.
   */
  allNumbers?: boolean;
}

/** All three recorded: only passwords and ignore="mask" areas are still masked. */
export function recordedEverything(rules: MaskRules): boolean {
  return rules.forms && rules.numbers && rules.emails;
}

// Unicode decimal digits (category Nd, Unicode 17), as hex code point ranges. The same table is
// in footage/privacy/masking.py: neither side trusts its own runtime's Unicode version.
const DECIMAL_DIGITS = `
0030-0039 0660-0669 06F0-06F9 07C0-07C9 0966-096F 09E6-09EF 0A66-0A6F 0AE6-0AEF
0B66-0B6F 0BE6-0BEF 0C66-0C6F 0CE6-0CEF 0D66-0D6F 0DE6-0DEF 0E50-0E59 0ED0-0ED9
0F20-0F29 1040-1049 1090-1099 17E0-17E9 1810-1819 1946-194F 19D0-19D9 1A80-1A89
1A90-1A99 1B50-1B59 1BB0-1BB9 1C40-1C49 1C50-1C59 A620-A629 A8D0-A8D9 A900-A909
A9D0-A9D9 A9F0-A9F9 AA50-AA59 ABF0-ABF9 FF10-FF19 104A0-104A9 10D30-10D39 10D40-10D49
11066-1106F 110F0-110F9 11136-1113F 111D0-111D9 112F0-112F9 11450-11459 114D0-114D9
11650-11659 116C0-116C9 116D0-116E3 11730-11739 118E0-118E9 11950-11959 11BF0-11BF9
11C50-11C59 11D50-11D59 11DA0-11DA9 11DE0-11DE9 11F50-11F59 16130-16139 16A60-16A69
16AC0-16AC9 16B50-16B59 16D70-16D79 1CCF0-1CCF9 1D7CE-1D7FF 1E140-1E149 1E2F0-1E2F9
1E4F0-1E4F9 1E5F1-1E5FA 1E950-1E959 1FBF0-1FBF9
`;

/** The table as a character class; `otherOnly`: without ASCII's 0-9. */
function digitClass(otherOnly = false): string {
  const ranges = DECIMAL_DIGITS.trim()
    .split(/\s+/)
    .filter((pair) => !otherOnly || pair !== '0030-0039')
    .map((pair) => {
      const [first, last] = pair.split('-');
      return `\\u{${first}}-\\u{${last}}`;
    });
  return `[${ranges.join('')}]`;
}

const D = digitClass();
const DIGITS = new RegExp(D, 'gu');
const ANY_DIGIT = new RegExp(D, 'u');
// Page text with numbers masked but not all of them (twin of _NUMBER in masking.py): a date
// or a time is kept whole; any other run of digits (single spaces, dots, hyphens, slashes and
// brackets between them, a leading '+' or '(') is masked when it has at least PERSONAL_DIGITS
// digits (phone, card, account and id numbers), or is international ('+' and at least 6).
const PERSONAL_DIGITS = 7;
const INTERNATIONAL_DIGITS = 6;
/** NUMBER (below) over the digit class `d`. */
function numberPattern(d: string): RegExp {
  const date =
    `${d}{4}-${d}{1,2}-${d}{1,2}(?!${d})` +
    `|${d}{1,2}[./]${d}{1,2}[./]${d}{2,4}(?!${d})` +
    `|${d}{1,2}\\. ?${d}{1,2}\\. ?${d}{4}(?!${d})`;
  const time = `${d}{1,2}:${d}{2}(?::${d}{2})?(?!${d})`;
  // A run stops before a date or a time ("€12.50 2026-12-03": a price, then a date).
  return new RegExp(`(?<date>${date})|(?<time>${time})|(?<run>[+(]?${d}(?:[ ().\\-/]{0,2}(?!${date}|${time})${d})*)`, 'gu');
}
// NUMBER over the whole table is a 44 KB pattern: made (and compiled) only for a page whose
// text has a digit outside ASCII.
let NUMBER: RegExp | null = null;
// Text whose digits are all ASCII (nearly all page text) takes NUMBER over [0-9]: the very same
// matches there, found ~6 times faster than through the whole table's class.
const OTHER_DIGIT = new RegExp(digitClass(true), 'u');
const ASCII_NUMBER = numberPattern('[0-9]');
const ASCII_DIGITS = /[0-9]/g;

// Text with at least INTERNATIONAL_DIGITS ASCII digits (anchored, and [^0-9] and [0-9] never
// overlap: one pass, no backtracking). A regular expression, not a loop: the recorder asks
// this of every text of a page once, before V8 has compiled a loop of ours.
const ENOUGH_DIGITS = new RegExp(`^(?:[^0-9]*[0-9]){${INTERNATIONAL_DIGITS}}`);

/** The numbers of page text that identify people masked, the rest (prices, dates…) kept. */
export function maskPersonalNumbers(s: string): string {
  // Most page text has no digit at all: one scan for one, not NUMBER's alternatives at every
  // character (the recorder calls this for every text node of the page).
  if (!ANY_DIGIT.test(s)) return s;
  const ascii = !OTHER_DIGIT.test(s);
  // Fewer digits in the whole text than the shortest masked run has (a price, a rating, a
  // count): the text stays as it is, without NUMBER's search.
  if (ascii && !ENOUGH_DIGITS.test(s)) return s;
  const digits = ascii ? ASCII_DIGITS : DIGITS;
  if (!ascii && !NUMBER) NUMBER = numberPattern(D);
  return s.replace(ascii ? ASCII_NUMBER : (NUMBER as RegExp), (match: string, _date?: string, _time?: string, run?: string) => {
    if (run === undefined) return match;
    const n = (run.match(digits) || []).length;
    return n >= PERSONAL_DIGITS || (run[0] === '+' && n >= INTERNATIONAL_DIGITS) ? run.replace(digits, '*') : run;
  });
}
const LOCAL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~.-";
const LOCAL = new Uint8Array(128);
for (let i = 0; i < LOCAL_CHARS.length; i++) LOCAL[LOCAL_CHARS.charCodeAt(i)] = 1;
// The anchor and the domain only; the local part is found by walking back from the anchor (a
// plain regular expression backtracks quadratically on long runs of local-part characters).
// Neither '@' nor '%' can occur in a domain, so the matches are every anchor with a domain.
const AT_DOMAIN = /(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;
const QUERY_START = /[?#]/;
// One `name=value` of a query string or fragment.
const QUERY_PARAM = /[^?#&;]+/g;

function maskParamDigits(param: string): string {
  // utm_* values are the site's own campaign names (black-friday-2026), not visitors' data.
  return param.slice(0, 4).toLowerCase() === 'utm_' ? param : param.replace(DIGITS, '*');
}
// The pieces of a URL between its delimiters (see scrubUrl).
const URL_PART = /[^/?&=#;]+/g;
// A piece that starts with the '@' of an address whose local part ended at a delimiter.
const BARE_ADDRESS = /^(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/i;

function maskUrlPart(part: string): string {
  const masked = maskEmails(part);
  const bare = BARE_ADDRESS.exec(masked);
  return bare ? '*'.repeat(bare[0].length) + masked.slice(bare[0].length) : masked;
}
// ASCII whitespace as HTML defines it for srcset (not \s, which differs between JS and Python).
const SRCSET_TOKEN = /[^\t\n\f\r ]+/g;
const SURROGATE = /[\uD800-\uDFFF]/;
const SURROGATE_PAIR = /[\uD800-\uDBFF][\uDC00-\uDFFF]/g;

function isLocal(code: number): boolean {
  return code < 128 && LOCAL[code] === 1;
}

/** Every character (code point, whitespace too) replaced by '*'; the length is kept. */
export function maskAll(s: string): string {
  // Python counts code points: an astral character is one '*', not two.
  const length = SURROGATE.test(s) ? s.replace(SURROGATE_PAIR, '*').length : s.length;
  return '*'.repeat(length);
}

function maskEmails(s: string): string {
  if (s.indexOf('@') < 0 && s.indexOf('%40') < 0) return s;
  let out = '';
  let done = 0; // s.slice(0, done) is in `out` already
  AT_DOMAIN.lastIndex = 0;
  let match: RegExpExecArray | null;
  while ((match = AT_DOMAIN.exec(s)) !== null) {
    const at = match.index;
    const end = at + match[0].length;
    if (at === 0 || !isLocal(s.charCodeAt(at - 1))) continue; // no local part
    // The local part runs back to the first non-local character; it stops at `done`, as what
    // lies before is masked already (the run continues into the previous address).
    let start = at;
    while (start > done && isLocal(s.charCodeAt(start - 1))) start--;
    out += s.slice(done, start) + '*'.repeat(end - start);
    done = end;
  }
  if (done === 0) return s;
  return out + s.slice(done);
}

// What maskText may change holds one of these: '@' or '%' (an e-mail address), a digit: ASCII,
// or any other from the table's lowest on (astral ones are surrogates, past it too).
const FIRST_OTHER_DIGIT = DECIMAL_DIGITS.trim().split(/\s+/)[1].split('-')[0];
const MAYBE_MASKED = new RegExp(`[0-9@%\\u${FIRST_OTHER_DIGIT}-\\uffff]`);

/** Page text: e-mail addresses masked unless recorded, then numbers unless recorded: every
 * digit with `rules.allNumbers`, else those that identify people. */
export function maskText(s: string, rules: MaskRules): string {
  if (!MAYBE_MASKED.test(s)) return s; // most page text
  if (!rules.emails) s = maskEmails(s);
  if (!rules.numbers) s = rules.allNumbers ? s.replace(DIGITS, '*') : maskPersonalNumbers(s);
  return s;
}

/** Typed text: all masked when `sensitive` or typed text is not recorded, else maskText with
 * every digit masked (a typed number is the visitor's own). */
export function maskValue(value: string, rules: MaskRules, sensitive: boolean): string {
  if (sensitive || !rules.forms) return maskAll(value);
  if (!rules.numbers && !rules.allNumbers) rules = { ...rules, allNumbers: true };
  return maskText(value, rules);
}

/** An address: e-mails masked anywhere, digits in the query and fragment (not the path). */
export function scrubUrl(url: string, rules: MaskRules): string {
  if (typeof url !== 'string' || !url) return url;
  const cut = rules.numbers ? -1 : url.search(QUERY_START);
  // Part by part: '/', '?', '=' and '&' are legal in an e-mail's local part, and one address
  // must not mask the whole rest of the URL.
  // An e-mail needs its '@' (or '%40'): most addresses have none, and skip the part by part.
  if (!rules.emails && (url.indexOf('@') >= 0 || url.indexOf('%40') >= 0)) {
    url = url.replace(URL_PART, maskUrlPart);
  }
  if (cut >= 0) url = url.slice(0, cut) + url.slice(cut).replace(QUERY_PARAM, maskParamDigits);
  return url;
}

function scrubSrcset(srcset: string, rules: MaskRules): string {
  // Images: e-mails only. Digits in image URLs are sizes and versions, not visitors' data,
  // and masking them would break the replay.
  const emailsOnly = { forms: true, numbers: true, emails: rules.emails };
  return srcset.replace(SRCSET_TOKEN, (token) => scrubUrl(token, emailsOnly));
}

// ---- the state of one page view ---------------------------------------------------------

// What is known of a node id (bits). IGNORED and TYPED are inherited by descendants.
const PASSWORD = 1; // a password field (never recorded)
const IGNORED = 2; // inside data-recording-ignore="mask" (never recorded)
const TYPED = 4; // a textarea or inside a contenteditable area: its text is typed
const STYLE = 8; // a <style> element or a stylesheet's text: digits are CSS
const SENSITIVE = PASSWORD | IGNORED;
const INHERITED = IGNORED | TYPED;

/** A JSON integer (as Python's side reads it too: 2.0 is 2, true is not 1). */
function asInt(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) ? value : null;
}

/**
 * What earlier events of one page view said about its nodes (which ids are passwords…), so an
 * input event is masked as its field requires. Only nodes that need remembering are stored,
 * at most `maxIds`; beyond that every unknown id counts as sensitive.
 */
export class PageMaskState {
  private known = new Map<number, number>();
  saturated = false;

  constructor(readonly maxIds: number = 50_000) {}

  get size(): number {
    return this.known.size;
  }

  /** The bits known for `nodeId`; sensitive when unknown and the state is full. */
  flags(nodeId: unknown): number {
    const id = asInt(nodeId);
    const found = id !== null ? this.known.get(id) : undefined;
    if (found === undefined) return this.saturated ? SENSITIVE : 0;
    return found;
  }

  /** A password field, or inside an ignore="mask" area (or unknown to a full state). */
  isSensitive(nodeId: unknown): boolean {
    return (this.flags(nodeId) & SENSITIVE) !== 0;
  }

  /** Remember `flags` for `nodeId` (bits are only ever added). */
  mark(nodeId: unknown, flags: number): void {
    const id = asInt(nodeId);
    if (id === null) return;
    const known = this.known.get(id);
    if (known !== undefined) this.known.set(id, known | flags);
    else if (this.known.size < this.maxIds) this.known.set(id, flags);
    else this.saturated = true;
  }

  /** A node left the page (its descendants' marks stay: they only ever mask more). */
  forget(nodeId: unknown): void {
    const id = asInt(nodeId);
    if (id !== null) this.known.delete(id);
  }

  /** A full snapshot: rrweb numbers every node anew. */
  reset(): void {
    this.known.clear();
    this.saturated = false;
  }
}

// ---- the event walk -----------------------------------------------------------------------

// Incremental sources with ids, coordinates and offsets only.
const NUMBERS_ONLY = new Set([
  MOUSE_MOVE,
  MOUSE_INTERACTION,
  SCROLL,
  VIEWPORT_RESIZE,
  TOUCH_MOVE,
  MEDIA_INTERACTION,
  DRAG,
  SELECTION,
]);

// How an attribute is masked.
const A_OTHER = 0; // e-mails only
const A_VALUE = 1; // typed for form fields, text elsewhere
const A_TEXT = 2; // maskText
const A_CONTENT = 3; // maskText on <meta>, e-mails only elsewhere
const A_URL = 4;
const A_SRCSET = 5;
const A_SKIP = 6;
// A Map, not an object: attribute names such as "constructor" must not find Object's.
const ATTRIBUTES = new Map<string, number>([
  ['value', A_VALUE],
  ['title', A_TEXT],
  ['alt', A_TEXT],
  ['placeholder', A_TEXT],
  ['aria-label', A_TEXT],
  ['aria-description', A_TEXT],
  ['aria-valuetext', A_TEXT],
  ['label', A_TEXT],
  ['summary', A_TEXT],
  ['content', A_CONTENT],
  ['href', A_URL],
  ['src', A_OTHER], // a resource, not an address the visitor typed or followed
  ['action', A_URL],
  ['formaction', A_URL],
  ['cite', A_URL],
  ['poster', A_OTHER],
  ['xlink:href', A_URL],
  ['srcset', A_SRCSET],
  ['rr_dataURL', A_SKIP],
  // Markers read by the masks themselves; masking them would lose what they say.
  ['data-recording-ignore', A_OTHER],
  ['data-rr-is-password', A_OTHER],
]);
const FIELDS = new Set(['input', 'textarea', 'select']);
// Inputs whose value the site wrote, not the visitor.
const BUTTON_INPUTS = new Set(['checkbox', 'radio', 'submit', 'button', 'reset', 'image']);
// Custom event payload keys holding addresses.
const URL_KEYS = new Set(['source', 'url', 'href']);

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function has(obj: Obj, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

function attributeKind(name: string): number {
  const how = ATTRIBUTES.get(name);
  if (how !== undefined) return how;
  return name.startsWith('data-') ? A_TEXT : A_OTHER;
}

/** `obj` with its keys through `fn` (a new object, same order, only when a key changes). */
function rekey(obj: Obj, fn: (s: string) => string): Obj {
  const keys = Object.keys(obj);
  const renamed = keys.map(fn);
  if (renamed.every((key, i) => key === keys[i])) return obj;
  const rebuilt: Obj = {};
  for (let i = 0; i < keys.length; i++) {
    // defineProperty: a key "__proto__" stays a key instead of setting the prototype.
    Object.defineProperty(rebuilt, renamed[i], {
      value: obj[keys[i]],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return rebuilt;
}

/**
 * Every string inside `root` through `fn`, in place; returns the (new) root. Strings directly
 * under URL_KEYS go through `urlFn` when given; object keys through `fn` too when `keys`
 * (such objects are rebuilt). Iterative: any depth; a cycle is walked once.
 */
function mapStrings(
  root: unknown,
  fn: (s: string) => string,
  urlFn: ((s: string) => string) | null = null,
  keys = false,
): unknown {
  if (typeof root === 'string') return fn(root);
  if (isObj(root)) {
    if (keys) root = rekey(root, fn);
  } else if (!Array.isArray(root)) {
    return root;
  }
  const seen = new Set<unknown>();
  const stack: unknown[] = [root];
  const visit = (container: Obj | unknown[], key: string | number, value: unknown): void => {
    if (typeof value === 'string') {
      if (value) {
        const useUrl = urlFn !== null && typeof key === 'string' && URL_KEYS.has(key);
        (container as Obj)[key as string] = useUrl ? urlFn(value) : fn(value);
      }
    } else if (isObj(value)) {
      if (keys) {
        const rebuilt = rekey(value, fn);
        if (rebuilt !== value) {
          (container as Obj)[key as string] = rebuilt;
          value = rebuilt;
        }
      }
      stack.push(value);
    } else if (Array.isArray(value)) {
      stack.push(value);
    }
  };
  while (stack.length > 0) {
    const container = stack.pop();
    if (seen.has(container)) continue;
    seen.add(container);
    if (Array.isArray(container)) {
      for (let i = 0; i < container.length; i++) visit(container, i, container[i]);
    } else if (isObj(container)) {
      for (const key of Object.keys(container)) visit(container, key, container[key]);
    }
  }
  return root;
}

/** One scrubEvent call: the rules, the state, and the walk. */
class Masker {
  readonly forms: boolean;
  readonly numbers: boolean;
  readonly emails: boolean;
  readonly everything: boolean;

  constructor(
    readonly rules: MaskRules,
    readonly state: PageMaskState,
    /** rrweb already passed the serialized text through maskText (see scrubEvent). */
    readonly textMasked = false,
  ) {
    this.forms = rules.forms;
    this.numbers = rules.numbers;
    this.emails = rules.emails;
    this.everything = recordedEverything(rules);
  }

  readonly text = (s: string): string => maskText(s, this.rules);
  /** Typed text, when recorded: every digit masked unless numbers are (see maskValue). */
  readonly typed = (s: string): string =>
    maskText(s, this.rules.numbers ? this.rules : { ...this.rules, allNumbers: true });
  readonly url = (s: string): string => scrubUrl(s, this.rules);

  /** Text of a node the state knows `flags` of. */
  byFlags(s: string, flags: number): string {
    if (flags & STYLE) return this.emails ? s : maskEmails(s);
    if (flags & SENSITIVE || (flags & TYPED && !this.forms)) return maskAll(s);
    return flags & TYPED ? this.typed(s) : this.text(s);
  }

  // -- events --

  event(event: Obj): void {
    const kind = asInt(event.type);
    const data = event.data;
    if (kind === INCREMENTAL) {
      if (!isObj(data)) return;
      const source = asInt(data.source);
      if (source !== null && NUMBERS_ONLY.has(source)) return;
      if (source === MUTATION) {
        this.mutation(data);
      } else if (source === INPUT) {
        const text = data.text;
        if (typeof text === 'string' && text) {
          if (this.state.flags(data.id) & SENSITIVE || !this.forms) data.text = maskAll(text);
          else data.text = this.typed(text);
        }
      } else if (!this.emails) {
        mapStrings(data, maskEmails);
      }
    } else if (kind === FULL_SNAPSHOT) {
      this.state.reset();
      if (isObj(data)) this.node(data.node, '', 0);
    } else if (kind === DOM_CONTENT_LOADED || kind === LOAD) {
      return; // nothing in them
    } else if (this.everything) {
      return; // no password can be in these
    } else if (kind === META) {
      if (isObj(data)) {
        const href = data.href;
        if (typeof href === 'string' && href) data.href = scrubUrl(href, this.rules);
      }
    } else if (kind === CUSTOM) {
      // The site's own events (footage('event', name, props)) are never masked: they are
      // values the site chose to send (see footage/privacy/masking.py).
      if (isObj(data) && has(data, 'payload') && data.tag !== EVENT_TAG) {
        data.payload = mapStrings(data.payload, this.text, this.url, true);
      }
    } else if (kind === PLUGIN) {
      if (isObj(data) && has(data, 'payload')) {
        data.payload = mapStrings(data.payload, this.text, null, true);
      }
    } else if (has(event, 'data')) {
      event.data = mapStrings(data, this.text);
    }
  }

  // -- serialized nodes (rrweb-snapshot) --

  /**
   * Walk a serialized node and its children; `context`: inherited bits. A snapshot has
   * thousands of nodes and this walk runs once per page, mostly before V8 has optimised it:
   * the usual node gets as few steps as can be (no call, no stack entry for text rrweb
   * masked already).
   */
  node(root: unknown, parentTag: string, context: number): void {
    const state = this.state;
    const textMasked = this.textMasked;
    // Three stacks in step (a node, its parent's tag, the bits it inherits): no tuple per node.
    const nodes: unknown[] = [root];
    const parents: string[] = [parentTag];
    const contexts: number[] = [context];
    while (nodes.length > 0) {
      const node = nodes.pop() as Obj;
      const parent = parents.pop()!;
      const ctx = contexts.pop()!;
      if (typeof node !== 'object' || node === null || Array.isArray(node)) continue;
      const kind = node.type;
      if (kind === NODE_ELEMENT) {
        const tagName = node.tagName;
        const tag = typeof tagName === 'string' ? tagName.toLowerCase() : '';
        const attributes = node.attributes;
        const hasAttributes = typeof attributes === 'object' && attributes !== null && !Array.isArray(attributes);
        let own = ctx;
        let password = false;
        if (hasAttributes) {
          const found = attributes as Obj;
          if (found['data-recording-ignore'] === 'mask') own |= IGNORED;
          const editable = found.contenteditable;
          if (typeof editable === 'string' && editable.toLowerCase() !== 'false') own |= TYPED;
          if (tag === 'input') {
            const inputType = found.type;
            password =
              (typeof inputType === 'string' && inputType.toLowerCase() === 'password') ||
              has(found, 'data-rr-is-password');
          }
        }
        if (tag === 'textarea') own |= TYPED;
        let marks = own;
        if (password) marks |= PASSWORD;
        if (tag === 'style') marks |= STYLE;
        if (marks) state.mark(node.id, marks);
        if (hasAttributes) this.elementAttributes(tag, attributes as Obj, own, password);
        const children = node.childNodes;
        if (Array.isArray(children)) {
          // Text rrweb masked (see below) in an element that adds nothing to it: done here.
          const plainText = textMasked && own === 0 && tag !== 'style' && tag !== 'script';
          for (let i = 0; i < children.length; i++) {
            const child = children[i];
            if (plainText && typeof child === 'object' && child !== null && child.type === NODE_TEXT && child.isStyle !== true) continue;
            nodes.push(child);
            parents.push(tag);
            contexts.push(own);
          }
        }
      } else if (kind === NODE_TEXT) {
        if (parent === 'script') continue;
        let flags = ctx;
        if (node.isStyle === true || parent === 'style') flags |= STYLE;
        if (flags) state.mark(node.id, flags);
        // Text rrweb masked with maskText already needs it again only where this walk knows
        // more: an ignored or typed area above it, across a shadow root or a frame.
        if (textMasked && !flags) continue;
        const text = node.textContent;
        if (typeof text === 'string' && text) node.textContent = this.byFlags(text, flags);
      } else if (kind === NODE_COMMENT || kind === NODE_CDATA) {
        const text = node.textContent;
        if (typeof text === 'string' && text) node.textContent = this.byFlags(text, ctx);
      } else if (kind === NODE_DOCUMENT) {
        const children = node.childNodes;
        if (Array.isArray(children)) {
          for (const child of children) {
            nodes.push(child);
            parents.push('');
            contexts.push(ctx);
          }
        }
      }
    }
  }

  elementAttributes(tag: string, attributes: Obj, ctx: number, password: boolean): void {
    if (tag === 'option' && !this.forms && has(attributes, 'selected')) {
      delete attributes.selected; // the choice of a select is a typed value
    }
    const ignored = ctx & IGNORED;
    if (this.everything && !ignored && !password) return; // nothing else is masked
    let inputType = '';
    if (tag === 'input') {
      const value = attributes.type;
      if (typeof value === 'string') inputType = value.toLowerCase();
    }
    const emails = this.emails;
    const names = Object.keys(attributes);
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      const value = attributes[name];
      if (typeof value !== 'string' || !value) continue;
      let how = attributeKind(name);
      if (how === A_OTHER) {
        // Most attributes (class, id, style…): only an e-mail address, which needs its '@'.
        if (!emails && (value.indexOf('@') >= 0 || value.indexOf('%40') >= 0)) attributes[name] = maskEmails(value);
        continue;
      }
      if (how === A_VALUE) {
        if (FIELDS.has(tag) && (password || !BUTTON_INPUTS.has(inputType))) {
          if (password || ignored || !this.forms) attributes[name] = maskAll(value);
          else attributes[name] = this.text(value);
          continue;
        }
        how = A_TEXT;
      } else if (how === A_CONTENT) {
        how = tag === 'meta' ? A_TEXT : A_OTHER;
      }
      if (how === A_TEXT) {
        attributes[name] = ignored ? maskAll(value) : this.text(value);
      } else if (how === A_OTHER) {
        if (!emails) attributes[name] = maskEmails(value);
      } else if (how === A_URL) {
        attributes[name] = scrubUrl(value, this.rules);
      } else if (how === A_SRCSET) {
        attributes[name] = scrubSrcset(value, this.rules);
      }
    }
  }

  // -- mutations --

  mutation(data: Obj): void {
    const state = this.state;
    const removes = data.removes;
    if (Array.isArray(removes)) {
      for (const removed of removes) if (isObj(removed)) state.forget(removed.id);
    }
    // Attributes before adds: a node that became an ignored or editable area in this very
    // mutation passes that on to the children added below it.
    const changes = data.attributes;
    if (Array.isArray(changes)) {
      for (const change of changes) {
        if (!isObj(change)) continue;
        const attributes = change.attributes;
        if (isObj(attributes) && Object.keys(attributes).length > 0) {
          this.mutationAttributes(change.id, attributes);
        }
      }
    }
    const adds = data.adds;
    if (Array.isArray(adds)) {
      for (const add of adds) {
        if (!isObj(add)) continue;
        const flags = state.flags(add.parentId);
        this.node(add.node, flags & STYLE ? 'style' : '', flags & INHERITED);
      }
    }
    const texts = data.texts;
    if (Array.isArray(texts)) {
      for (const change of texts) {
        if (!isObj(change)) continue;
        const value = change.value;
        if (typeof value === 'string' && value) {
          change.value = this.byFlags(value, state.flags(change.id));
        }
      }
    }
  }

  /** Changed attributes of a node whose tag is not known here. */
  mutationAttributes(nodeId: unknown, attributes: Obj): void {
    let marks = 0;
    const inputType = attributes.type;
    if (typeof inputType === 'string' && inputType.toLowerCase() === 'password') marks |= PASSWORD;
    if (typeof attributes['data-rr-is-password'] === 'string') marks |= PASSWORD;
    if (attributes['data-recording-ignore'] === 'mask') marks |= IGNORED;
    const editable = attributes.contenteditable;
    if (typeof editable === 'string' && editable.toLowerCase() !== 'false') marks |= TYPED;
    if (marks) this.state.mark(nodeId, marks);
    const flags = this.state.flags(nodeId) | marks;
    const sensitive = flags & SENSITIVE;
    if (this.everything && !sensitive) return;
    const ignored = flags & IGNORED;
    for (const name of Object.keys(attributes)) {
      const value = attributes[name];
      if (isObj(value)) {
        // a style diff: {property: value | [value, priority] | false}
        if (!this.emails) mapStrings(value, maskEmails);
        continue;
      }
      if (typeof value !== 'string' || !value) continue;
      const how = attributeKind(name);
      if (how === A_VALUE) {
        // The tag is unknown: a field's value for all we know (the safe side).
        attributes[name] = sensitive || !this.forms ? maskAll(value) : this.text(value);
      } else if (how === A_TEXT || how === A_CONTENT) {
        attributes[name] = ignored ? maskAll(value) : this.text(value);
      } else if (how === A_OTHER) {
        if (!this.emails) attributes[name] = maskEmails(value);
      } else if (how === A_URL) {
        attributes[name] = scrubUrl(value, this.rules);
      } else if (how === A_SRCSET) {
        attributes[name] = scrubSrcset(value, this.rules);
      }
    }
  }
}

/**
 * Mask one rrweb event in place, by the rules of footage/privacy/masking.py; returns it.
 * `state` carries what the page's earlier events said about its nodes (keep one per page
 * view). Never throws; an event whose walk fails anyway has every string in its data masked.
 * `textMasked`: the event comes from rrweb with a `maskTextFn` that applies maskText or more to
 * every text node it serializes (the recorder's), so plain text is not masked a second time.
 */
export function scrubEvent<T>(
  event: T,
  rules: MaskRules,
  state?: PageMaskState | null,
  textMasked = false,
): T {
  if (!isObj(event)) return event;
  const target: Obj = event;
  try {
    new Masker(rules, state || new PageMaskState(), textMasked).event(target);
  } catch {
    try {
      if (has(target, 'data')) target.data = mapStrings(target.data, maskAll);
    } catch {
      // nothing more can be done without throwing into the page
    }
  }
  return event;
}
