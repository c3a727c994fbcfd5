import type mongoose from 'mongoose';

/** One kind of GET /api/payments, timed through the service and as the bare query it comes down to. */
export interface ListCase {
  name: string;
  /** The query string, as a caller writes it. */
  query: string;
  serviceP50: number;
  serviceMax: number;
  floorP50: number;
  /** Payments in the answer, so that an empty page is not taken for a fast one. */
  returned: number;
}

type Filter = Record<string, unknown>;

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function timed(samples: number, run: () => Promise<number>): Promise<{ times: number[]; returned: number }> {
  const times: number[] = [];
  let returned = 0;
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    returned = await run();
    times.push(performance.now() - t0);
  }
  return { times, returned };
}

/**
 * The list's latency with what is stored: newest first for an admin, one user's, one status, one order, a
 * time range and the next page. The floor is the driver's find with the same filter, sort and limit.
 */
export async function measureLists(opts: {
  url: string;
  adminToken: string;
  userToken: string;
  userId: string;
  conn: mongoose.Connection;
  samples: number;
}): Promise<ListCase[]> {
  const payments = opts.conn.collection('payments');
  const newest = await payments.find({}).sort({ createdAt: -1, _id: -1 }).limit(10).toArray();
  const tenth = newest[9];
  if (!tenth) throw new Error('bench: fewer than 10 payments stored, nothing to list');
  const since = Math.floor((tenth.createdAt as Date).getTime() / 1000) - 3600;
  const byTime = { createdAt: -1, _id: -1 } as const;
  const cases: { name: string; query: string; token: string; filter: Filter; limit: number }[] = [
    { name: 'admin, everyone', query: 'limit=10', token: opts.adminToken, filter: {}, limit: 10 },
    { name: 'admin, everyone, 100', query: 'limit=100', token: opts.adminToken, filter: {}, limit: 100 },
    { name: 'user, own', query: 'limit=10', token: opts.userToken, filter: { userId: opts.userId }, limit: 10 },
    {
      name: 'admin, one status',
      query: 'status=refunded',
      token: opts.adminToken,
      filter: { status: 'refunded' },
      limit: 10,
    },
    {
      name: 'admin, one order',
      query: `orderId=${String(tenth.orderId)}`,
      token: opts.adminToken,
      filter: { orderId: tenth.orderId },
      limit: 10,
    },
    {
      name: 'admin, last hour',
      query: `created[gte]=${since}`,
      token: opts.adminToken,
      filter: { createdAt: { $gte: new Date(since * 1000) } },
      limit: 10,
    },
    {
      name: 'admin, next page',
      query: `starting_after=${String(tenth._id)}`,
      token: opts.adminToken,
      filter: {
        $or: [{ createdAt: { $lt: tenth.createdAt } }, { createdAt: tenth.createdAt, _id: { $lt: tenth._id } }],
      },
      limit: 10,
    },
  ];
  const results: ListCase[] = [];
  for (const c of cases) {
    const service = await timed(opts.samples, async () => {
      const res = await fetch(`${opts.url}/api/payments?${c.query}`, {
        headers: { authorization: `Bearer ${c.token}` },
      });
      if (res.status !== 200) throw new Error(`bench: GET /api/payments?${c.query} answered ${res.status}`);
      return ((await res.json()) as { data: unknown[] }).data.length;
    });
    const floor = await timed(opts.samples, async () => {
      const docs = await payments
        .find(c.filter)
        .sort(byTime)
        .limit(c.limit + 1)
        .toArray();
      return Math.min(docs.length, c.limit);
    });
    results.push({
      name: c.name,
      query: c.query,
      serviceP50: p50(service.times),
      serviceMax: Math.max(...service.times),
      floorP50: p50(floor.times),
      returned: service.returned,
    });
  }
  return results;
}
