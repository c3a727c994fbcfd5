export default async function globalTeardown(): Promise<void> {
  await Promise.all((globalThis.__SERVERS__ ?? []).map((s) => s.stop()));
}
