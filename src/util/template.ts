/** `{{name}}` placeholders of a prompt template (whitespace inside the braces is allowed). */
const VARIABLE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}/g;

/** A template split into literal text and variable names, in order. */
export type TemplatePart = string | { readonly variable: string };

export function parseTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let at = 0;
  for (const m of template.matchAll(VARIABLE)) {
    if (m.index > at) parts.push(template.slice(at, m.index));
    parts.push({ variable: m[1]! });
    at = m.index + m[0].length;
  }
  if (at < template.length) parts.push(template.slice(at));
  return parts;
}

/** The distinct variable names a template uses. */
export function templateVariables(template: string): string[] {
  return [...new Set(parseTemplate(template).flatMap((p) => (typeof p === 'string' ? [] : [p.variable])))];
}
