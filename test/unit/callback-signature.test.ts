import { sign, signingKey } from '../../src/callbacks/signature';

describe('the callback signature', () => {
  test("matches the Standard Webhooks specification's example", () => {
    const key = signingKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(sign(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  test('takes a secret without the whsec_ prefix as its UTF-8 bytes', () => {
    expect(signingKey('plain sécret')).toEqual(Buffer.from('plain sécret', 'utf8'));
    expect(signingKey('whsec_AAEC')).toEqual(Buffer.from([0, 1, 2]));
  });
});
