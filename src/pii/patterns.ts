/**
 * The PII detectors: regular expressions that find candidates, and validators that keep
 * only real ones (Luhn for cards, the ISO 13616 mod-97 checksum and length for IBANs,
 * libphonenumber-js for phone numbers, node:net for IPv6). Built once per interceptor.
 */
import { isIPv6 } from 'node:net';
import { isSupportedCountry, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { eachMatch, settle, type Detection, type Detector } from '../pipeline/detections.js';

export const PII_ENTITIES = ['email', 'phone', 'credit_card', 'iban', 'ssn', 'ip_address', 'secret'] as const;
export type PiiEntity = (typeof PII_ENTITIES)[number];

/** The country whose national phone numbers are recognized unless a config names another. */
export const DEFAULT_PHONE_COUNTRY = 'US';

export interface CustomPattern {
  name: string;
  pattern: string;
  flags?: string;
}

/** What `redact` writes instead of a value: `[EMAIL]`, `[CREDIT_CARD]`, `[EMPLOYEE_ID]`. */
export function redactionOf(category: string): string {
  return `[${category.toUpperCase()}]`;
}

type Check = (match: RegExpExecArray) => { start: number; end: number } | null;

interface Rule {
  readonly category: string;
  readonly re: RegExp;
  /** Cheap test that must hold for the rule to be tried at all. */
  readonly maybe: ((text: string) => boolean) | null;
  /** Keeps (and may narrow) a candidate; null drops it. */
  readonly check: Check | null;
  readonly replacement: string;
}

const whole: Check = (m) => ({ start: m.index, end: m.index + m[0].length });

function luhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** Issuer prefixes of the card networks (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay, Maestro). */
const CARD_PREFIX = /^(?:4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|6(?:011|5|4[4-9]|2)|3(?:0[0-5]|[689])|35|5[06-9]|6\d)/;

const card: Check = (m) => {
  const digits = m[0].replace(/[ -]/g, '');
  if (digits.length < 13 || digits.length > 19 || !CARD_PREFIX.test(digits) || !luhn(digits)) return null;
  return whole(m);
};

/** IBAN lengths by country (ISO 13616 registry). */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, BY: 28, CH: 21, CR: 22, CY: 28, CZ: 24,
  DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28,
  HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20,
  LV: 21, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31, MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29,
  RO: 24, RS: 22, SA: 24, SC: 31, SE: 24, SI: 19, SK: 24, SM: 27, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22,
  VG: 24, XK: 20,
};

function ibanChecksumOk(iban: string): boolean {
  const moved = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (let i = 0; i < moved.length; i++) {
    const c = moved.charCodeAt(i);
    const value = c >= 65 ? String(c - 55) : moved[i]!;
    for (let j = 0; j < value.length; j++) rest = (rest * 10 + (value.charCodeAt(j) - 48)) % 97;
  }
  return rest === 1;
}

/** The candidate may run into a following word: only the country's length of characters counts. */
const iban: Check = (m) => {
  const length = IBAN_LENGTHS[m[0].slice(0, 2)];
  if (length === undefined) return null;
  let taken = 0;
  let end = 0;
  while (end < m[0].length && taken < length) {
    if (m[0][end] !== ' ') taken++;
    end++;
  }
  if (taken < length) return null;
  const compact = m[0].slice(0, end).replace(/ /g, '');
  if (!ibanChecksumOk(compact)) return null;
  const next = m.input.charCodeAt(m.index + end);
  if ((next >= 48 && next <= 57) || (next >= 65 && next <= 90) || (next >= 97 && next <= 122)) return null;
  return { start: m.index, end: m.index + end };
};

function phoneCheck(country: CountryCode): Check {
  return (m) => {
    const digits = m[0].replace(/\D/g, '').length;
    if (digits < 7 || digits > 15) return null;
    const parsed = parsePhoneNumberFromString(m[0], country);
    return parsed?.isValid() ? whole(m) : null;
  };
}

const ipv6: Check = (m) => (m[0].length >= 6 && isIPv6(m[0]) ? whole(m) : null);

/**
 * Provider API keys and common secret formats: OpenAI, Anthropic, AWS access key ids,
 * GitHub, GitLab, Slack, Stripe, Google, Hugging Face tokens, JWTs, PEM private keys, and
 * the value of `password=` / `api_key: …` style assignments.
 */
const SECRET_SOURCES = [
  'sk-ant-[A-Za-z0-9_-]{20,}',
  'sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}',
  '(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}',
  'gh[pousr]_[A-Za-z0-9]{36,255}',
  'github_pat_[A-Za-z0-9_]{22,255}',
  'glpat-[A-Za-z0-9_-]{20,}',
  'xox[abposr]-[A-Za-z0-9-]{10,}',
  '(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}',
  'AIza[0-9A-Za-z_-]{35}',
  'hf_[A-Za-z0-9]{30,}',
  'eyJ[A-Za-z0-9_-]{10,}\\.eyJ[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{10,}',
  '-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\\s\\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|$)',
  '(?<=(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret)["\']?\\s{0,3}[:=]\\s{0,3}["\']?)[^\\s"\',;]{8,200}',
];

const HAS_DIGIT = /\d/;
const hasDigit = (text: string): boolean => HAS_DIGIT.test(text);

/**
 * Chars of a streamed answer held back by default: longer than what a value can show
 * before it is recognisable (an e-mail's local part and domain before its TLD). A value
 * that is already recognised is held whole until it stops growing, whatever its length.
 */
export const PII_WINDOW = 96;

function builtinRule(entity: PiiEntity, country: CountryCode): Omit<Rule, 'replacement'> {
  switch (entity) {
    case 'email':
      return {
        category: entity,
        re: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])/g,
        maybe: (text) => text.includes('@'),
        check: null,
      };
    case 'phone':
      // Not followed by `.5` or `:20`: `2024-07-18 10:20:30` is a date and a time, not a number to call.
      return { category: entity, re: /(?<![\w+@.-])(?:\+|00)?\(?\d[\d ().-]{5,22}\d(?![\w@-]|[.:]\d)/g, maybe: hasDigit, check: phoneCheck(country) };
    case 'credit_card':
      return { category: entity, re: /(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])/g, maybe: hasDigit, check: card };
    case 'iban':
      return { category: entity, re: /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,36}/g, maybe: hasDigit, check: iban };
    case 'ssn':
      return { category: entity, re: /(?<![\d-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])/g, maybe: hasDigit, check: null };
    case 'ip_address':
      // IPv4 here; IPv6 is a second rule of the same category.
      return {
        category: entity,
        re: /(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\d|\.\d)/g,
        maybe: hasDigit,
        check: null,
      };
    case 'secret':
      return { category: entity, re: new RegExp(`(?<![A-Za-z0-9_-])(?:${SECRET_SOURCES.join('|')})`, 'gi'), maybe: null, check: null };
  }
}

/** Builds the detector for the configured entities and custom patterns (regexes are compiled here, once). */
export function buildPiiDetector(entities: readonly PiiEntity[], custom: readonly CustomPattern[], country: string): Detector {
  if (!isSupportedCountry(country)) throw new Error(`phone_country "${country}" is not a country libphonenumber knows`);
  const rules: Rule[] = entities.map((e) => ({ ...builtinRule(e, country as CountryCode), replacement: redactionOf(e) }));
  if (entities.includes('ip_address')) rules.push({ category: 'ip_address', re: /(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])/g, maybe: (t) => t.includes(':'), check: ipv6, replacement: redactionOf('ip_address') });
  for (const c of custom) {
    const flags = new Set([...(c.flags ?? ''), 'g']);
    flags.delete('y');
    rules.push({ category: c.name, re: new RegExp(c.pattern, [...flags].join('')), maybe: null, check: null, replacement: redactionOf(c.name) });
  }
  return (text) => {
    const found: Detection[] = [];
    for (const rule of rules) {
      if (rule.maybe && !rule.maybe(text)) continue;
      eachMatch(rule.re, text, (m) => {
        const span = rule.check ? rule.check(m) : whole(m);
        if (span) found.push({ ...span, category: rule.category, replacement: rule.replacement });
      });
    }
    return settle(found);
  };
}
