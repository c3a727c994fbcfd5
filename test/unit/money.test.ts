import { InvalidInputError } from '../../src/domain/errors';
import { minorUnitDigits, toMinorUnits } from '../../src/domain/money';

describe('toMinorUnits', () => {
  test.each([
    [19.99, 'usd', 1999],
    [0.1, 'usd', 10],
    [0.29, 'usd', 29], // 0.29 * 100 is 28.999999999999996 in floating point
    [1.005, 'kwd', 1005],
    [4.35, 'eur', 435], // 4.35 * 100 is 434.99999999999994
    [1500, 'jpy', 1500],
    [1500, 'JPY', 1500],
    [0, 'usd', 0],
    [20, 'usd', 2000],
    [123456789.12, 'usd', 12345678912],
  ])('%p %s is %p minor units, exactly', (price, currency, amount) => {
    expect(toMinorUnits(price, currency)).toEqual({ amount, currency: currency.toLowerCase() });
  });

  test.each([
    [12.345, 'usd'],
    [1500.5, 'jpy'],
    [-1, 'usd'],
    [Number.NaN, 'usd'],
    [Number.POSITIVE_INFINITY, 'usd'],
    [1e21, 'usd'],
    [1e-7, 'usd'],
  ])('refuses %p %s', (price, currency) => {
    expect(() => toMinorUnits(price, currency)).toThrow(InvalidInputError);
  });

  test('knows zero- and three-decimal currencies', () => {
    expect([minorUnitDigits('jpy'), minorUnitDigits('KRW'), minorUnitDigits('bhd'), minorUnitDigits('usd')]).toEqual([
      0, 0, 3, 2,
    ]);
  });
});
