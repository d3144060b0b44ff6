// Identifiers of the recorder: the visitor id, the session and page view ids.
//
// Everything is first-party: ids live in the site's own localStorage. When
// localStorage is unavailable (privacy modes, sandboxed iframes, full quota)
// the ids live in memory instead, so recording still works for this page.

const VISITOR_KEY = 'footage_vid';
const SESSION_KEY = 'footage_session';

export interface Session {
  id: string;
  /** Last real visitor activity (ms since epoch). */
  last_activity_ms: number;
  /** True once the visitor has done something in this session: later pages record from load. */
  started: boolean;
}

/** A random uuid v4. crypto.randomUUID only exists in secure contexts, hence the fallbacks. */
export function uuid(): string {
  try {
    if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') {
      return crypto.randomUUID();
    }
  } catch {
    // fall through to the manual version
  }
  const bytes = new Uint8Array(16);
  try {
    crypto.getRandomValues(bytes);
  } catch {
    for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
  let hex = '';
  for (let i = 0; i < 16; i++) hex += (bytes[i] + 0x100).toString(16).slice(1);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// ---- storage with an in-memory fallback -------------------------------------

const memory: Record<string, string> = {};

function readKey(key: string): string | null {
  try {
    const value = window.localStorage.getItem(key);
    if (value !== null) return value;
  } catch {
    // localStorage is blocked: use the in-memory copy
  }
  return Object.prototype.hasOwnProperty.call(memory, key) ? memory[key] : null;
}

function writeKey(key: string, value: string): void {
  // The memory copy is always kept, so a storage that accepts reads but
  // refuses writes (a full quota) still gives stable ids for this page.
  memory[key] = value;
  try {
    window.localStorage.setItem(key, value);
  } catch {
    // ignored: the memory copy is used
  }
}

function removeKey(key: string): void {
  delete memory[key];
  try {
    window.localStorage.removeItem(key);
  } catch {
    // ignored: the memory copy is gone
  }
}

/** A first-party yes/no (the visitor's exclusion, their consent). */
export function readFlag(key: string): boolean {
  return readKey(key) === '1';
}

export function writeFlag(key: string, on: boolean): void {
  if (on) writeKey(key, '1');
  else removeKey(key);
}

// ---- visitor ----------------------------------------------------------------

/** The persistent visitor id, created on first use. */
export function visitorId(): string {
  const existing = readKey(VISITOR_KEY);
  if (existing && existing.length >= 8 && existing.length <= 64) return existing;
  const id = uuid();
  writeKey(VISITOR_KEY, id);
  return id;
}

// ---- session ----------------------------------------------------------------

/** The stored session, or null when there is none (or it is unreadable). */
export function readSession(): Session | null {
  const raw = readKey(SESSION_KEY);
  if (!raw) return null;
  try {
    const s = JSON.parse(raw) as Partial<Session>;
    if (typeof s.id !== 'string' || typeof s.last_activity_ms !== 'number') return null;
    return { id: s.id, last_activity_ms: s.last_activity_ms, started: s.started === true };
  } catch {
    return null;
  }
}

export function writeSession(session: Session): void {
  writeKey(SESSION_KEY, JSON.stringify(session));
}

/** True when the session is still running at `now` (activity within the timeout). */
export function isAlive(session: Session | null, now: number, timeoutMs: number): session is Session {
  return !!session && now - session.last_activity_ms <= timeoutMs && session.last_activity_ms <= now + 60_000;
}

/**
 * Starts a new session at `now` whatever the stored one says (the server ended the
 * recording at its size or duration cap: the rest of the visit is a new recording).
 * The site's other tabs follow at their next activity.
 */
export function newSession(now: number): Session {
  const session: Session = { id: uuid(), last_activity_ms: now, started: true };
  writeSession(session);
  return session;
}

/**
 * Records real visitor activity at `now`: keeps the running session (marking
 * it started) or opens a new one when the last activity is too long ago.
 */
export function touchSession(now: number, timeoutMs: number): Session {
  const current = readSession();
  const session: Session = isAlive(current, now, timeoutMs)
    ? { id: current.id, last_activity_ms: now, started: true }
    : { id: uuid(), last_activity_ms: now, started: true };
  writeSession(session);
  return session;
}
