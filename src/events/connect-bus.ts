import type { Config } from '../config';
import type { Logger } from '../log';
import type { Bus } from './bus';
import { connectJetStreamBus } from './jetstream-bus';
import { connectBus as connectStanBus } from './stan-bus';

export type BusConfig = Pick<Config, 'bus' | 'nats' | 'jetstream'>;

/** The one place that picks the transport (BUS); the rest of the service sees only the Bus port. */
export function connectBus(cfg: BusConfig, log: Logger, bootTimeoutMs: number): Promise<Bus> {
  switch (cfg.bus) {
    case 'jetstream':
      return connectJetStreamBus(cfg.nats, cfg.jetstream, log, bootTimeoutMs);
    case 'stan':
      return connectStanBus(cfg.nats, log, bootTimeoutMs);
  }
}
