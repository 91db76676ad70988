/**
 * "Typed-through" reuse: while the user types exactly what the current suggestion begins
 * with, the rest of that suggestion is still right; answer from it without generating.
 */
export interface ShownSuggestion {
  uri: string;
  /** Document text before the cursor when the suggestion was made. */
  prefix: string;
  /** Document text after the cursor then (must be unchanged for reuse). */
  suffix: string;
  /** Post-processed candidate texts. */
  texts: string[];
  completionId: string;
}

export class TypedThrough {
  private last = new Map<string, ShownSuggestion>();

  remember(s: ShownSuggestion): void {
    this.last.set(s.uri, s);
  }

  forget(uri: string): void {
    this.last.delete(uri);
  }

  /**
   * The remaining texts if `prefix`/`suffix` are the remembered ones plus typed characters that
   * every returned candidate starts with; undefined otherwise (nothing typed counts as a miss:
   * the LRU cache answers repeats).
   */
  match(uri: string, prefix: string, suffix: string): { texts: string[]; source: ShownSuggestion } | undefined {
    const s = this.last.get(uri);
    if (!s || suffix !== s.suffix || prefix.length <= s.prefix.length || !prefix.startsWith(s.prefix)) return undefined;
    const typed = prefix.slice(s.prefix.length);
    const texts = s.texts.filter((t) => t.length > typed.length && t.startsWith(typed)).map((t) => t.slice(typed.length));
    // Whitespace left at the start of a line is not worth showing as a suggestion.
    const useful = texts.filter((t) => t.trim() !== '');
    return useful.length ? { texts: useful, source: s } : undefined;
  }
}
