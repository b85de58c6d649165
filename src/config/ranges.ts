/**
 * Documented ranges for durations and sizes. JSON Schema can bound numbers but not `30s`
 * or `10mb`, so a duration or size property carries `"x-range": [min, max]` next to its
 * `$ref`; validate.ts registers the keyword, and an out-of-range value is an issue with its
 * YAML path and line:column like any other. Every range is written into the description
 * too, so editors show it.
 */
import { DURATION_PATTERN, parseDuration, parseSize, SIZE_PATTERN } from '../util/units.js';
import type { SchemaFragment } from '../features/feature.js';
import type { Code, CodeKeywordDefinition, KeywordCxt } from 'ajv/dist/2020.js';

export const RANGE_KEYWORD = 'x-range';

const DURATION = new RegExp(DURATION_PATTERN);
const SIZE = new RegExp(SIZE_PATTERN);

/** A duration or size in its unit (ms or bytes); null for text that is neither. */
export function measure(text: string): number | null {
  if (DURATION.test(text)) return parseDuration(text);
  if (SIZE.test(text)) return parseSize(text);
  return null;
}

/**
 * A `$ref` to `#/$defs/duration` or `#/$defs/size` bounded to [min, max] (both written in
 * the same unit family), with the range appended to the description.
 */
export function bounded(
  def: 'duration' | 'size',
  min: string,
  max: string,
  description: string,
  extra: SchemaFragment = {},
): SchemaFragment {
  return {
    $ref: `#/$defs/${def}`,
    description: `${description} Range: ${min} to ${max}.`,
    [RANGE_KEYWORD]: [min, max],
    ...extra,
  };
}

/** One unit factor table for both formats (the patterns keep `m` and `mb` apart). */
const FACTORS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
const NUMBER_AND_UNIT = '^([0-9]+(?:\\.[0-9]+)?)(ms|s|m|h|d|b|kb|mb|gb)$';

type CodeTag = (strings: TemplateStringsArray, ...args: unknown[]) => Code;

/**
 * The ajv keyword, as generated code so that it also works in the precompiled (standalone)
 * validator. It passes values that are not durations or sizes (their pattern reports
 * those). `_` and `stringify` are ajv's code builders, handed in by whoever loaded ajv.
 */
export function rangeKeyword(_: CodeTag, stringify: (value: unknown) => Code): CodeKeywordDefinition {
  return {
    keyword: RANGE_KEYWORD,
    schemaType: 'array',
    error: {
      message: 'out of range',
      params: ({ schema }) => _`{min: ${(schema as string[])[0]}, max: ${(schema as string[])[1]}}`,
    },
    code(cxt: KeywordCxt) {
      const { gen, data } = cxt;
      const [min, max] = (cxt.schema as [string, string]).map((text) => measure(text) ?? 0) as [number, number];
      const m = gen.let('m', _`typeof ${data} == "string" ? new RegExp(${NUMBER_AND_UNIT}).exec(${data}) : null`);
      const factors = stringify(FACTORS);
      cxt.fail(_`${m} !== null && (Number(${m}[1]) * ${factors}[${m}[2]] < ${min} || Number(${m}[1]) * ${factors}[${m}[2]] > ${max})`);
    },
  };
}
