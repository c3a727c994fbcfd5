import type { Config } from '../config';
import type { Logger } from '../log';
import type { Bus } from './bus';
import { connectJetStreamBus } from './jetstream-bus';
import { connectKafkaBus } from './kafka-bus';
import { connectBus as connectStanBus } from './stan-bus';

export type BusConfig = Pick<Config, 'bus' | 'nats' | 'jetstream' | 'kafka'>;

/** The one place that picks the transport (BUS); the rest of the service sees only the Bus port. */
export function connectBus(cfg: BusConfig, log: Logger, bootTimeoutMs: number): Promise<Bus> {
  switch (cfg.bus) {
    case 'jetstream':
      return connectJetStreamBus(cfg.nats, cfg.jetstream, log, bootTimeoutMs);
    case 'kafka':
      return connectKafkaBus(cfg.nats, cfg.kafka, log, bootTimeoutMs);
    default:
      return connectStanBus(cfg.nats, log, bootTimeoutMs);
  }
}
