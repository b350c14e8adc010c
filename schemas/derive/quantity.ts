// resource.Quantity parsing and canonical form, as k8s.io/apimachinery/pkg/api/resource does it:
// the value is kept to nano precision (rounded up, away from zero), and printed in the format
// it was written in (binary SI "Ki".."Ei", decimal SI "n".."E", or decimal exponent "e3"),
// with the smallest integer mantissa. Exact arithmetic with BigInt.

export const QUANTITY_REGEX_MESSAGE =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

export class QuantityError extends Error {}

type Format = "BinarySI" | "DecimalSI" | "DecimalExponent";

const binarySuffixes: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const decimalSuffixes: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const decimalByExp = new Map(Object.entries(decimalSuffixes).map(([s, e]) => [e, s]));
const binaryByExp = new Map(Object.entries(binarySuffixes).map(([s, e]) => [e, s]));

const re = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;

export interface ParsedQuantity {
  /** value × 10^9, rounded away from zero */
  nanos: bigint;
  format: Format;
}

const pow10 = (n: number) => 10n ** BigInt(n);

/** Parse a quantity string; throws QuantityError on anything Kubernetes would reject. */
export function parseQuantity(input: string | number): ParsedQuantity {
  const str = typeof input === "number" ? numberText(input) : input.trim();
  const m = re.exec(str);
  if (!m || str.length === 0) throw new QuantityError(QUANTITY_REGEX_MESSAGE);
  let num = m[1]!;
  const suffix = m[2]!;
  let negative = false;
  if (num[0] === "+" || num[0] === "-") {
    negative = num[0] === "-";
    num = num.slice(1);
  }
  // digits, optionally one dot, at least one digit
  const nm = /^([0-9]*)(?:\.([0-9]*))?$/.exec(num);
  if (!nm || (nm[1]!.length === 0 && (nm[2] ?? "").length === 0)) throw new QuantityError(QUANTITY_REGEX_MESSAGE);
  const intPart = nm[1]!;
  const frac = nm[2] ?? "";
  // value = mantissa × 10^(-frac.length)
  const mantissa = BigInt((intPart + frac).replace(/^0+(?=.)/, "") || "0");

  let format: Format;
  let base = 10;
  let exp = 0;
  if (suffix in binarySuffixes) {
    format = "BinarySI";
    base = 2;
    exp = binarySuffixes[suffix]!;
  } else if (suffix in decimalSuffixes) {
    format = "DecimalSI";
    exp = decimalSuffixes[suffix]!;
  } else if (/^[eE][-+]?[0-9]+$/.test(suffix)) {
    format = "DecimalExponent";
    exp = Number(suffix.slice(1));
    if (!Number.isSafeInteger(exp) || Math.abs(exp) > 1000) throw new QuantityError(QUANTITY_REGEX_MESSAGE);
  } else {
    throw new QuantityError("unable to parse quantity's suffix");
  }

  // nanos = mantissa × base^exp × 10^9 / 10^frac.length, rounded up (away from zero)
  let numer = mantissa * pow10(9);
  let denom = pow10(frac.length);
  if (base === 2) numer *= 2n ** BigInt(exp);
  else if (exp >= 0) numer *= pow10(exp);
  else denom *= pow10(-exp);
  let nanos = numer / denom;
  if (numer % denom !== 0n) nanos += 1n;
  if (negative) nanos = -nanos;
  return { nanos, format };
}

function numberText(n: number): string {
  if (!Number.isFinite(n)) throw new QuantityError(QUANTITY_REGEX_MESSAGE);
  // JS prints 1e21 as "1e+21", which the regex accepts; small numbers as "1e-7" likewise.
  return String(n);
}

/** Canonical string of a parsed quantity (Quantity.String()). */
export function formatQuantity(q: ParsedQuantity): string {
  if (q.nanos === 0n) return "0";
  const neg = q.nanos < 0n;
  const abs = neg ? -q.nanos : q.nanos;
  const sign = neg ? "-" : "";
  let format = q.format;
  if (format === "BinarySI") {
    // Small values and values that are not whole numbers print as decimal SI (no rounding).
    if (abs < 1024n * pow10(9) || abs % pow10(9) !== 0n) format = "DecimalSI";
  }
  if (format === "BinarySI") {
    let v = abs / pow10(9);
    let e = 0;
    while (e < 60 && v % 1024n === 0n) {
      v /= 1024n;
      e += 10;
    }
    return sign + v.toString() + (binaryByExp.get(e) ?? "");
  }
  // Decimal: mantissa × 10^exp with exp a multiple of 3 and the mantissa as small as possible.
  let v = abs;
  let e = -9;
  while (v % 10n === 0n) {
    v /= 10n;
    e++;
  }
  const r = ((e % 3) + 3) % 3;
  v *= pow10(r);
  e -= r;
  let suffix: string;
  if (format === "DecimalExponent") suffix = e === 0 ? "" : `e${e}`;
  else suffix = decimalByExp.get(e) ?? `e${e}`;
  return sign + v.toString() + suffix;
}

/** Kubernetes' canonical form of a quantity: "1000m"→"1", "0.5"→"500m", "1024Mi"→"1Gi", 2→"2". */
export function canonicalQuantity(q: string | number): string {
  return formatQuantity(parseQuantity(q));
}

/** Quantity as a plain number (for comparisons, scheduling): value in base units. */
export function quantityValue(q: string | number): number {
  return Number(parseQuantity(q).nanos) / 1e9;
}
