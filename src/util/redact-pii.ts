/**
 * A minimal PII redaction for logged payloads: e-mail addresses, payment card numbers
 * (13 to 19 digits that pass the Luhn check) and phone numbers (at least 9 digits, written
 * `+…` or in groups with separators, so dates and timestamps stay) become `[email]`, `[card]`, `[phone]`.
 *
 * Stands in until the `pii_detector` interceptor (src/interceptors/pii-detector.ts) lands:
 * its detector replaces this function, and `payload_log` keeps calling `redactPii`.
 */

const EMAIL = /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}/g;
const CARD = /\b\d(?:[ -]?\d){12,18}\b/g;
const PHONE = /\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}\d|\(?\b\d{2,4}\)?(?:[ .-]\d{2,4}){2,4}\b(?![:.]\d)/g;

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export function redactPii(text: string): string {
  return text
    .replace(EMAIL, '[email]')
    .replace(CARD, (match) => (luhn(match.replace(/[ -]/g, '')) ? '[card]' : match))
    .replace(PHONE, (match) => (match.replace(/\D/g, '').length >= 9 ? '[phone]' : match));
}
