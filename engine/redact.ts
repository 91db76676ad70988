/**
 * Credentials out of messages and logs: URLs are shown without user:password, query (API keys
 * travel there) or fragment. One helper for the engine (remote adapters' errors), the server
 * (status, logs) and `neox serve`.
 */

/** A URL fit for a status message or a log: no user:password, no query, no fragment. */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(String(url));
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.href;
  } catch {
    return redactUrlsIn(String(url));
  }
}

/** Every URL in free text (an error message) redacted as redactUrl does. */
export function redactUrlsIn(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]*@)?([^\s?#]*)(\?[^\s#]*)?(#\S*)?/gi, '$1$3');
}
