// kept.ts — a replayed page's stylesheets, images and fonts from the copies Footage kept.
//
// While the visitor was on the page, the server copied the assets it used (footage/assets/);
// the player page lists them in `data-assets` (the site's address → the copy's address on
// Footage). Before replay, every such address in the events is swapped for its copy, so the
// replay shows the site as the visitor saw it, even after the site changed or deleted them.
// An address without a copy loads from the site, as it always did.

/** What `data-assets` holds, checked: only string → `/site-assets/…` pairs are kept. */
export function readKept(json: string | undefined, base: string = location.href): Record<string, string> {
  const kept: Record<string, string> = {};
  try {
    const value: unknown = JSON.parse(json || '{}');
    if (!value || typeof value !== 'object' || Array.isArray(value)) return kept;
    for (const [url, copy] of Object.entries(value as Record<string, unknown>)) {
      // Absolute: the replay frame is about:blank, and a copied stylesheet's own url()s
      // resolve against the copy's address.
      if (typeof copy === 'string' && copy.startsWith('/site-assets/')) kept[url] = new URL(copy, base).href;
    }
  } catch {
    // A broken list replays from the site, as before.
  }
  return kept;
}

const CSS_URL = /url\(\s*(?:"((?:[^"\\\n]|\\[\s\S])*)"|'((?:[^'\\\n]|\\[\s\S])*)'|((?:[^'"()\s\\]|\\[\s\S])*))\s*\)/gi;
const CSS_IMPORT = /@import\s+(["'])([^"'\n]*)\1/gi;

export class KeptCopies {
  private readonly copies: Map<string, string>;

  constructor(copies: Record<string, string>) {
    this.copies = new Map(Object.entries(copies));
  }

  get empty(): boolean {
    return this.copies.size === 0;
  }

  /** The copy of an address, or the address itself. */
  url(value: string): string {
    return this.copies.get(value.trim()) ?? value;
  }

  /** A `srcset` with each candidate's address swapped. */
  srcset(value: string): string {
    return value
      .split(',')
      .map((candidate) => candidate.replace(/^(\s*)(\S+)/, (_m, space: string, url: string) => space + this.url(url)))
      .join(',');
  }

  /** CSS text with each `url()` and `@import` swapped. */
  css(text: string): string {
    if (this.empty || typeof text !== 'string' || (!text.includes('url(') && !text.includes('@import'))) return text;
    return text
      .replace(CSS_URL, (match: string, dq?: string, sq?: string, bare?: string) => {
        const url = dq ?? sq ?? bare ?? '';
        const copy = this.copies.get(url);
        return copy ? `url("${copy}")` : match;
      })
      .replace(CSS_IMPORT, (match: string, _quote: string, url: string) => {
        const copy = this.copies.get(url);
        return copy ? `@import "${copy}"` : match;
      });
  }
}
