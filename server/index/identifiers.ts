/**
 * Identifier-aware full-text terms. A full-text index splits on blanks and punctuation only, so
 * `parseConfig` in `function parseConfig0(path)` is one token, `parseconfig0`, and a search for
 * `parseConfig`, `parse config` or `parse_config` finds nothing. The index therefore keeps a terms
 * column: every identifier split at camelCase humps, snake_case and kebab-case joints and digit
 * runs, lower-cased, followed by the whole identifier lower-cased without its separators (so an
 * exact name still ranks first). Queries go through the same function.
 */

/** Identifiers and words in any script: letters, combining marks, digits, `_`, `$`. */
const WORD = /[\p{L}\p{M}\p{N}_$]+/gu;
/** Camel humps (`parseXMLConfig` -> parse, XML, Config), digit runs, and runs of other letters. */
const PART = /\p{Lu}+(?=\p{Lu}\p{Ll})|\p{Lu}?\p{Ll}+|\p{Lu}+|\p{N}+|[\p{L}\p{M}]+/gu;
/** Longer tokens are noise (hashes, base64): the full-text index ignores them anyway. */
const MAX_TOKEN = 40;

/** The parts of one identifier, lower-cased: `parseConfig0` -> parse, config, 0. */
export function splitIdentifier(word: string): string[] {
  return (word.match(PART) ?? []).map((p) => p.toLowerCase());
}

/**
 * The terms of `text`: each word's parts, then the word itself (lower-cased, separators dropped)
 * when it has more than one part. `parseConfig0(path)` -> "parse config 0 parseconfig0 path".
 */
export function identifierTerms(text: string): string {
  const out: string[] = [];
  for (const word of text.match(WORD) ?? []) {
    const parts = splitIdentifier(word);
    for (const p of parts) if (p.length <= MAX_TOKEN) out.push(p);
    const joined = parts.join('');
    if (parts.length > 1 && joined.length <= MAX_TOKEN) out.push(joined);
  }
  return out.join(' ');
}
