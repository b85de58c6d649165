/**
 * The first character of a JSON text after its leading whitespace (RFC 8259: space, tab,
 * line feed, carriage return), or '' when there is none.
 */
function firstSignificant(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return text[i]!;
  }
  return '';
}

/** What a JSON value can start with: an object, array, string, number, true, false or null. */
const VALUE_STARTS = new Set(['{', '[', '"', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 't', 'f', 'n']);

/**
 * Why `text` cannot be JSON judging by its first significant character, or null when it
 * may be (JSON.parse decides). Answers checked for JSON are often prose, and a failed
 * JSON.parse costs a thrown SyntaxError with its stack: a few microseconds per answer.
 */
export function notJsonStart(text: string): string | null {
  const first = firstSignificant(text);
  if (first === '') return 'it is empty';
  return VALUE_STARTS.has(first) ? null : `it starts with ${JSON.stringify(first)}, which no JSON value does`;
}
