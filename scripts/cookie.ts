/**
 * `npm run cookie -- <userId> [--admin] [--email EMAIL] [--bearer]`: a session cookie (or with
 * `--bearer` a token) for any user, signed with the running demo's JWT key (.demo/settings.json), or
 * with JWT_KEY when set. Prints only the value, for `curl -H "Cookie: $(npm run -s cookie -- ID)"`.
 */
import { parseArgs } from 'node:util';
import { readSettings, sessionCookie, signToken, type SessionUser } from './demo/session';

function main() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { admin: { type: 'boolean' }, email: { type: 'string' }, bearer: { type: 'boolean' } },
  });
  const [id] = positionals;
  if (!id) {
    process.stderr.write('usage: npm run cookie -- <userId> [--admin] [--email EMAIL] [--bearer]\n');
    process.exit(2);
  }
  const jwtKey = process.env.JWT_KEY || readSettings().jwtKey;
  const user: SessionUser = {
    id,
    email: values.email ?? `${id}@ticketing.dev`,
    ...(values.admin && { role: 'admin' as const }),
  };
  process.stdout.write(`${values.bearer ? signToken(user, jwtKey) : sessionCookie(user, jwtKey)}\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`cookie: ${(err as Error).message}\n`);
  process.exit(1);
}
