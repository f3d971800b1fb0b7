/** Share of the kept characters taken from the head of a cut text; the rest comes from its tail. */
const HEAD_SHARE = 0.6;

/**
 * Cuts `text` to at most `maxChars` characters (UTF-16 code units), keeping its head (60%) and
 * tail (40%) around a visible marker on its own line, e.g.
 * `head…\n[… 12,345 characters cut …]\n…tail`, where the number is how many characters were
 * removed. Texts within the limit come back unchanged. Never splits a surrogate pair.
 * @param maxChars the limit, including the marker; must leave room for it (≥ ~40).
 */
export function truncateMiddle(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  // The marker's length depends on the number in it; the number of digits of `text.length` is an upper bound.
  const room = Math.max(0, maxChars - cutMarker(text.length).length);
  let head = Math.ceil(room * HEAD_SHARE);
  let tail = room - head;
  if (isHighSurrogate(text.charCodeAt(head - 1))) head -= 1;
  if (tail > 0 && isLowSurrogate(text.charCodeAt(text.length - tail))) tail -= 1;
  const cut = text.length - head - tail;
  return `${text.slice(0, head)}${cutMarker(cut)}${tail > 0 ? text.slice(text.length - tail) : ""}`;
}

/** The marker put where characters were cut, with the count formatted as `12,345`. */
export function cutMarker(cutChars: number): string {
  return `\n[… ${cutChars.toLocaleString("en-US")} characters cut …]\n`;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
