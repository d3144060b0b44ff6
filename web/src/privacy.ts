// Who and what is never recorded, decided in the browser before anything is sent. The server
// applies the same rules again (footage/privacy/rules.py) as a backstop.

export interface Privacy {
  recordMobile: boolean;
  /** Lines of the site's `excluded_pages` setting (see docs/privacy.md for the syntax). */
  excludedPages: string[];
  respectDoNotTrack: boolean;
  requireConsent: boolean;
}

/** May this page of this browser be recorded? `consent` is the visitor's answer so far. */
export function privacyGate(privacy: Privacy, consent: boolean): boolean {
  if (privacy.requireConsent && !consent) return false;
  if (privacy.respectDoNotTrack && asksNotToBeTracked()) return false;
  if (!privacy.recordMobile && isMobile()) return false;
  return !pageExcluded(location.href, privacy.excludedPages);
}

function asksNotToBeTracked(): boolean {
  const nav = navigator as Navigator & { globalPrivacyControl?: boolean; msDoNotTrack?: string };
  const w = window as Window & { doNotTrack?: string };
  return nav.globalPrivacyControl === true || nav.doNotTrack === '1' || nav.doNotTrack === 'yes' || w.doNotTrack === '1';
}

// The same tokens the server looks for in the User-Agent.
const MOBILE = /Mobi|Android|iPhone|iPad|iPod|Windows Phone|IEMobile|BlackBerry|BB10|Opera Mini|Silk\/|Kindle|webOS|Tablet/i;

function isMobile(): boolean {
  const nav = navigator as Navigator & { userAgentData?: { mobile?: boolean } };
  if (nav.userAgentData && nav.userAgentData.mobile === true) return true;
  if (MOBILE.test(nav.userAgent || '')) return true;
  // iPadOS presents itself as a Mac; touch support gives it away.
  return /Macintosh/.test(nav.userAgent || '') && (nav.maxTouchPoints || 0) > 1;
}

/** `*` wildcards over the whole URL (or its path, for lines starting with `/`); `re:` regex. */
export function pageExcluded(url: string, patterns: string[]): boolean {
  for (const raw of patterns) {
    const line = raw.trim();
    if (!line || line.charAt(0) === '#') continue;
    try {
      if (line.slice(0, 3) === 're:') {
        if (new RegExp(line.slice(3)).test(url)) return true;
        continue;
      }
      const regex = new RegExp(`^${line.split('*').map(escape).join('.*')}$`, 'i');
      let target = url.split('#')[0];
      if (line.charAt(0) === '/') {
        const parsed = new URL(url);
        target = (parsed.pathname || '/') + parsed.search;
      }
      if (regex.test(target)) return true;
    } catch {
      // A pattern the browser cannot compile excludes nothing here; the server still checks.
    }
  }
  return false;
}

function escape(part: string): string {
  return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
