import type { DeadLetterStore } from '../db/dead-letters';
import { InvalidInputError, NotFoundError } from '../domain/errors';
import type { Bus } from './bus';
import type { Subject } from './subjects';

/**
 * Publishes a parked message again on its subject, as it arrived, then takes it off the list.
 * `npm run dead-letters -- replay` and the admin API both replay through this, each on its own bus
 * connection; the service's listener then handles it like any message (and parks it again if it
 * still cannot).
 */
export async function replayDeadLetter(deps: { deadLetters: DeadLetterStore; bus: Pick<Bus, 'publish'> }, id: string) {
  const d = await deps.deadLetters.get(id);
  if (!d) throw new NotFoundError(`No parked message has the id ${id}`);
  let data: unknown;
  try {
    data = JSON.parse(d.payload);
  } catch {
    // Left undefined: refused below.
  }
  // Every event is a JSON object; anything else would only be parked again.
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new InvalidInputError(`${id} is not a JSON object: it would only be parked again`, 'id', 'not_replayable');
  }
  const key = typeof (data as { id?: unknown }).id === 'string' ? (data as { id: string }).id : id;
  await deps.bus.publish({ subject: d.subject as Subject, id, key, data });
  // Removed only once the bus has it: a replay cut short is replayed again, not lost.
  await deps.deadLetters.remove(id);
  return d;
}
