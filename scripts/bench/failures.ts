/**
 * Why a bench run failed: the answers that were not 2xx with their bodies, the service's log lines
 * of those requests (found by the X-Request-Id every answer carries), and its last log lines.
 */
export interface FailedAnswer {
  status: number;
  body: string;
  requestId: string | undefined;
}

const KEEP = 5;

/** Collects the first few failing answers of a run (autocannon's onResponse) and its request errors. */
export function failureCollector() {
  const answers: FailedAnswer[] = [];
  const errors: string[] = [];
  let failed = 0;
  return {
    onResponse(status: number, body: string, headers: Record<string, unknown>) {
      if (status >= 200 && status < 300) return;
      failed++;
      if (answers.length < KEEP) {
        const id = headers['x-request-id'];
        answers.push({ status, body: body.slice(0, 600), requestId: typeof id === 'string' ? id : undefined });
      }
    },
    onError(err: Error) {
      failed++;
      if (errors.length < KEEP) errors.push(err.message);
    },
    get answers() {
      return answers;
    },
    get errors() {
      return errors;
    },
    get failed() {
      return failed;
    },
  };
}
export type Failures = ReturnType<typeof failureCollector>;

/** `failures` is absent when a check after the run failed rather than an answer. */
export function explainFailure(headline: string, serviceOutput: string, failures?: Failures): string {
  const lines = serviceOutput.split('\n').filter(Boolean);
  const parts = [headline];
  for (const a of failures?.answers ?? []) {
    parts.push(`  ${a.status} ${a.body}`);
    const logged = a.requestId ? lines.filter((l) => l.includes(a.requestId as string)) : [];
    for (const l of logged.slice(-5)) parts.push(`    log: ${l.slice(0, 2000)}`);
  }
  for (const e of failures?.errors ?? []) parts.push(`  request error: ${e}`);
  parts.push(`the service's last ${Math.min(30, lines.length)} log lines (at --log-level, warn unless given):`);
  parts.push(...lines.slice(-30).map((l) => `  ${l.slice(0, 2000)}`));
  return parts.join('\n');
}
