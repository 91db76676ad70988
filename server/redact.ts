/** URLs fit for a status message or a log: no user:password, no query (API keys travel there), no fragment. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.href;
  } catch {
    return redactUrlsIn(url);
  }
}

/** Every URL in free text (an error message) redacted as redactUrl does. */
export function redactUrlsIn(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]*@)?([^\s?#]*)(\?[^\s#]*)?(#\S*)?/gi, '$1$3');
}
