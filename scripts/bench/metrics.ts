/** The sum of a metric's samples in a Prometheus scrape, those whose labels include `labels` (0 if none). */
export function metricIn(text: string, name: string, labels = ''): number {
  return [...text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))]
    .filter((m) => (m[1] ?? '').includes(labels))
    .reduce((sum, m) => sum + Number(m[2]), 0);
}

/** The service's metrics, as Prometheus scrapes them. */
export async function scrape(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}
