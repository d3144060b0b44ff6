// pieces.ts — a recording's events in pieces (footage/recordings/pieces.py).
//
// The server keeps a recording as pieces that each begin with a full snapshot. The player
// reads the index first, then piece 0 (the first frame), then the rest in the background; a
// seek far ahead loads the piece that holds that time first. Pieces never change once the
// recording is ready, so the browser's cache keeps them (and a piece asked for twice here is
// fetched once).

export interface PieceInfo {
  n: number;
  /** ms from the recording's first event. */
  start_ms: number;
  end_ms: number;
  full_snapshot: boolean;
  events: number;
  bytes: number;
}

export interface PieceIndex {
  /** The recording's first event's timestamp: the player's clock counts from it. */
  start_timestamp: number;
  duration_ms: number;
  event_count: number;
  /** Where piece `{n}` is. */
  piece_url: string;
  pieces: PieceInfo[];
}

export interface TimedEvent {
  type: number;
  timestamp: number;
}

const num = (v: unknown): v is number => typeof v === 'number' && isFinite(v);

/** The index as the server sends it, checked; null when it is not one. */
export function readIndex(body: unknown): PieceIndex | null {
  const b = body as Partial<PieceIndex> | null;
  if (!b || typeof b !== 'object' || !Array.isArray(b.pieces) || typeof b.piece_url !== 'string') return null;
  if (!num(b.start_timestamp) || !num(b.duration_ms) || !b.piece_url.includes('{n}')) return null;
  const pieces = b.pieces.filter((p) => p && num(p.n) && num(p.start_ms) && num(p.end_ms));
  if (!pieces.length || pieces.some((p, i) => p.n !== i)) return null;
  return { ...b, pieces } as PieceIndex;
}

/** The number of the piece that shows the moment `time` (ms): the last one begun by then. */
export function pieceAt(index: PieceIndex, time: number): number {
  let found = 0;
  for (const p of index.pieces) {
    if (p.start_ms > time) break;
    found = p.n;
  }
  return found;
}

/** NDJSON (one event per line) → the events; lines that are not events are left out. */
export function parseNdjson<T extends TimedEvent>(text: string): T[] {
  const body = text.trim();
  if (!body) return [];
  // One parse of the whole piece is far quicker than one per line; a newline inside a JSON
  // string is always escaped, so every raw newline is between two events.
  const parsed: unknown[] = JSON.parse(`[${body.split('\n').join(',')}]`);
  return parsed.filter((e): e is T => !!e && typeof e === 'object' && num((e as T).type) && num((e as T).timestamp));
}

/** Fetches pieces once each; a failed fetch may be asked for again. */
export class PieceLoader<T extends TimedEvent> {
  private readonly pending = new Map<number, Promise<T[]>>();
  /** Bytes of the pieces' bodies as read (after the browser undid the compression). */
  received = 0;

  constructor(private readonly index: PieceIndex) {}

  load(n: number): Promise<T[]> {
    let found = this.pending.get(n);
    if (!found) {
      found = this.fetch(n);
      this.pending.set(n, found);
      found.catch(() => this.pending.delete(n));
    }
    return found;
  }

  private async fetch(n: number): Promise<T[]> {
    const url = this.index.piece_url.replace('{n}', String(n));
    const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/x-ndjson' } });
    if (!response.ok) throw new Error(`piece ${n}: HTTP ${response.status}`);
    const text = await response.text();
    this.received += text.length;
    return parseNdjson<T>(text);
  }
}

/** Adds `events` (in time order) into `target` (in time order), in place. */
export function insertSorted<T extends TimedEvent>(target: T[], events: T[]): void {
  if (!events.length) return;
  const first = events[0].timestamp;
  let lo = 0;
  let hi = target.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (target[mid].timestamp <= first) lo = mid + 1;
    else hi = mid;
  }
  const tail = target.splice(lo);
  for (const e of events) target.push(e);
  for (const e of tail) target.push(e);
}
