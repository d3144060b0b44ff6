// copies.ts — the visitor's browser gives Footage copies of the images and fonts it has.
//
// Footage keeps the page's assets with its recording (docs/assets.md): the server copies
// them from the site, but some it cannot reach (a site on an intranet, images behind the
// site's login). So a while after a page view's first batch is stored (the server has
// copied what it could by then), the recorder lists the page's own images and fonts (same
// origin only) and asks which of them the recording still lacks; only those it reads from the
// browser's cache, hashes, offers, and uploads when the site has no copy with that hash yet.
// On a site whose assets the server can fetch, that is one small request. Nothing marked
// personal by the site leaves the browser: an answer with `Cache-Control: private` or
// `no-store` is never offered, nor anything the recording does not show (the server takes
// only addresses the page's batches use).

const MAX_ADDRESSES = 60;
const MAX_BYTES = 2_000_000;
const TYPES =
  /^(image\/(png|jpeg|gif|webp|avif|svg\+xml|x-icon|vnd\.microsoft\.icon|bmp)|font\/(woff2?|ttf|otf|sfnt)|application\/(font-woff2?|x-font-woff|x-font-ttf|x-font-otf|vnd\.ms-fontobject))$/;
const CSS_URL = /url\(\s*(?:"([^"]*)"|'([^']*)'|([^'")\s]*))\s*\)/gi;

export interface CopyTarget {
  host: string;
  siteKey: string;
  pageId: string;
  /** False once the page view is over: stop. */
  current(): boolean;
}

/** The page's own images and the url()s of its readable stylesheets, same origin only. */
export function pageAssets(doc: Document = document): string[] {
  const found = new Set<string>();
  const add = (value: string | null | undefined, base: string): void => {
    if (!value || value.startsWith('data:') || found.size >= MAX_ADDRESSES) return;
    try {
      const url = new URL(value, base);
      if (url.origin === location.origin) found.add(url.href);
    } catch {
      // not an address
    }
  };
  for (const img of Array.from(doc.images)) {
    if (img.closest('[data-recording-block]')) continue; // never in the recording
    add(img.currentSrc || img.src, doc.baseURI);
  }
  const sheets = Array.from(doc.styleSheets);
  for (let i = 0; i < sheets.length && i < 50; i++) {
    let rules: CSSRuleList;
    try {
      rules = sheets[i].cssRules; // throws for another origin's stylesheet
    } catch {
      continue;
    }
    const base = sheets[i].href || doc.baseURI;
    for (const rule of Array.from(rules)) {
      const nested = (rule as CSSImportRule).styleSheet;
      if (nested && sheets.length < 50) sheets.push(nested);
      const text = rule.cssText;
      if (text.indexOf('url(') < 0) continue;
      CSS_URL.lastIndex = 0;
      let match: RegExpExecArray | null;
      while ((match = CSS_URL.exec(text)) !== null) add(match[1] ?? match[2] ?? match[3], base);
    }
  }
  return Array.from(found);
}

function idle(): Promise<void> {
  const w = window as unknown as { requestIdleCallback?: (cb: () => void, options: { timeout: number }) => number };
  return new Promise((resolve) => {
    if (typeof w.requestIdleCallback === 'function') w.requestIdleCallback(() => resolve(), { timeout: 2000 });
    else setTimeout(resolve, 50);
  });
}

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
}

interface Held {
  url: string;
  sha256: string;
  type: string;
  body: ArrayBuffer;
}

/** One asset as the browser has it, or null when it may not or cannot be offered. */
async function read(url: string): Promise<Held | null> {
  const response = await fetch(url, { cache: 'force-cache', credentials: 'same-origin' });
  if (!response.ok) return null;
  const type = (response.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
  const caching = (response.headers.get('cache-control') || '').toLowerCase();
  if (!TYPES.test(type) || /\b(private|no-store)\b/.test(caching)) return null;
  const length = Number(response.headers.get('content-length') || 0);
  if (length > MAX_BYTES) return null;
  const body = await response.arrayBuffer();
  if (body.byteLength === 0 || body.byteLength > MAX_BYTES) return null;
  return { url, sha256: hex(await crypto.subtle.digest('SHA-256', body)), type, body };
}

async function ask(target: CopyTarget, assets: { url: string; sha256?: string }[]): Promise<{ missing: string[]; wanted: Set<unknown> }> {
  const response = await fetch(`${target.host}/api/v1/assets/offer`, {
    method: 'POST',
    credentials: 'omit',
    mode: 'cors',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ site_key: target.siteKey, page_id: target.pageId, assets }),
  });
  if (!response.ok) return { missing: [], wanted: new Set() };
  const answer = (await response.json()) as { missing?: unknown; wanted?: unknown };
  const missing = Array.isArray(answer.missing) ? answer.missing.filter((u): u is string => typeof u === 'string') : [];
  return { missing, wanted: new Set(Array.isArray(answer.wanted) ? answer.wanted : []) };
}

/** Gives the copies the recording lacks; quiet on every failure. */
export async function offerCopies(target: CopyTarget, urls: string[] = pageAssets()): Promise<void> {
  if (!urls.length || typeof crypto === 'undefined' || !crypto.subtle || !window.isSecureContext) return;
  const { missing } = await ask(target, urls.map((url) => ({ url })));
  const held: Held[] = [];
  for (const url of missing.slice(0, MAX_ADDRESSES)) {
    await idle();
    if (!target.current()) return;
    try {
      const asset = await read(url);
      if (asset) held.push(asset);
    } catch {
      // not readable: the site is where the replay finds it
    }
  }
  if (!held.length || !target.current()) return;
  const { wanted } = await ask(target, held.map(({ url, sha256 }) => ({ url, sha256 })));
  for (const asset of held) {
    if (!wanted.has(asset.sha256) || !target.current()) continue;
    wanted.delete(asset.sha256); // one upload per hash, whatever the addresses
    await idle();
    const query = new URLSearchParams({ site_key: target.siteKey, page_id: target.pageId, url: asset.url });
    const sent = await fetch(`${target.host}/api/v1/assets/copies?${query}`, {
      method: 'POST',
      credentials: 'omit',
      mode: 'cors',
      headers: { 'Content-Type': asset.type },
      body: asset.body,
    });
    if (!sent.ok) return; // refused or too many: the site is where the replay finds the rest
  }
}
