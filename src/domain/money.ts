import { InvalidInputError } from './errors';

/** Amount in the currency's smallest unit (cents, yen, fils) with its ISO code, lower case. */
export interface Money {
  amount: number;
  currency: string;
}

/** The decimals of a currency's minor unit, but for the currencies below. */
export const USUAL_MINOR_UNIT_DIGITS = 2;

/**
 * Stripe's currencies whose minor unit is not the hundredth, with their decimals. Stripe's, not
 * ISO 4217's (nor a browser's Intl): it counts ISK and IQD in hundredths, for one. The admin
 * console reads this same table (http/console-router.ts).
 */
export const OTHER_MINOR_UNITS: Readonly<Record<string, number>> = Object.fromEntries([
  ...'bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf'.split(' ').map((c) => [c, 0]),
  ...'bhd jod kwd omr tnd'.split(' ').map((c) => [c, 3]),
]);

export function minorUnitDigits(currency: string): number {
  return OTHER_MINOR_UNITS[currency.toLowerCase()] ?? USUAL_MINOR_UNIT_DIGITS;
}

/**
 * Converts a major-unit price as it arrives in JSON (19.99) into integer minor
 * units (1999) without floating-point arithmetic: the number's shortest decimal
 * form is read digit by digit, so 19.99 never becomes 1998.9999999.
 */
export function toMinorUnits(price: number, currency: string): Money {
  const digits = minorUnitDigits(currency);
  if (!Number.isFinite(price) || price < 0) {
    throw new InvalidInputError(`price must be a finite non-negative number, got ${price}`, 'price');
  }
  const text = price.toString();
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) {
    throw new InvalidInputError(`price ${text} is not a plain decimal`, 'price');
  }
  const whole = match[1] ?? '0';
  const fraction = match[2] ?? '';
  if (fraction.length > digits) {
    throw new InvalidInputError(`price ${text} has more decimals than ${currency.toUpperCase()} allows`, 'price');
  }
  const amount = Number(whole + fraction.padEnd(digits, '0'));
  if (!Number.isSafeInteger(amount)) {
    throw new InvalidInputError(`price ${text} is too large`, 'price');
  }
  return { amount, currency: currency.toLowerCase() };
}
