import { createHmac } from 'node:crypto';

const PREFIX = 'whsec_';

/**
 * The HMAC key a secret stands for. Standard Webhooks secrets are `whsec_` and
 * the key's bytes in base64; any other secret is used as its UTF-8 bytes, as
 * most webhook senders do.
 */
export function signingKey(secret: string): Buffer {
  return secret.startsWith(PREFIX) ? Buffer.from(secret.slice(PREFIX.length), 'base64') : Buffer.from(secret, 'utf8');
}

/** The `webhook-signature` of one attempt: version 1, HMAC-SHA256 over `id.timestamp.body`, in base64. */
export function sign(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}
