/**
 * Which master serves which slot of a Redis Cluster, as CLUSTER SLOTS reports it, read again on
 * demand (after MOVED, a dropped node, a moved slot). Shared by the cluster subscriber and the
 * cluster key watcher, which both keep connections of their own to the masters.
 */
import { keySlot } from '../key-slot.js';

/** One range of slots and the address of the master that serves it. */
export interface SlotRange {
  readonly first: number;
  readonly last: number;
  readonly host: string;
  readonly port: number;
}

/** Reads CLUSTER SLOTS: `[[first, last, [host, port, id, …], …replicas], …]`. */
export function parseClusterSlots(raw: unknown): SlotRange[] {
  if (!Array.isArray(raw)) throw new Error(`unexpected CLUSTER SLOTS reply ${String(raw)}`);
  return raw.map((range: unknown) => {
    const [first, last, master] = Array.isArray(range) ? range : [];
    const [host, port] = Array.isArray(master) ? master : [];
    const parsed = {
      first: Number(first),
      last: Number(last),
      host: String(host),
      port: Number(port),
    };
    // An empty host means a node that does not know its own address (cluster-announce-ip).
    if (![parsed.first, parsed.last, parsed.port].every(Number.isInteger) || !host) {
      throw new Error(`unexpected CLUSTER SLOTS range ${JSON.stringify(range)}`);
    }
    return parsed;
  });
}

/** True when Redis answered that a key or channel lives elsewhere now. */
export function isRedirect(error: unknown): boolean {
  return error instanceof Error && /^(MOVED|ASK)\b/.test(error.message);
}

export class SlotMap {
  #ranges: SlotRange[] | undefined;

  /** `clusterSlots`: the raw reply of CLUSTER SLOTS, asked of any node through the client. */
  constructor(private readonly clusterSlots: () => Promise<unknown>) {}

  /** Reads the map again from the cluster. */
  async refresh(): Promise<void> {
    this.#ranges = parseClusterSlots(await this.clusterSlots());
  }

  /** The master serving the slot of `name` (a key or a shard channel); `fresh` reads the map first. */
  async masterOf(name: string, fresh = false): Promise<SlotRange & { readonly address: string }> {
    if (fresh || !this.#ranges) await this.refresh();
    const slot = keySlot(name);
    const range = this.#ranges?.find(
      (candidate) => candidate.first <= slot && slot <= candidate.last,
    );
    if (!range) throw new Error(`no master serves slot ${slot} (of ${name})`);
    return { ...range, address: `${range.host}:${range.port}` };
  }

  /** Whether the map (as last read) names the master at `address` for any slot. */
  async names(address: string): Promise<boolean> {
    if (!this.#ranges) await this.refresh();
    return (this.#ranges ?? []).some((range) => `${range.host}:${range.port}` === address);
  }
}

/** A node's address to connect to. */
export interface NodeAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Where a client is told to reach the node a Cluster announces as "host:port", as both clients
 * take it (ioredis `natMap`, node-redis `nodeAddressMap`): an object by address, or a function.
 * Behind NAT (containers, a proxy) the announced addresses cannot be reached, so our own node
 * connections must be mapped like the client's.
 */
export type AddressMap =
  | { readonly [address: string]: NodeAddress | undefined }
  | ((address: string) => NodeAddress | null | undefined);

/** The address to connect to for the node the Cluster announces at `host`:`port`. */
export function mapAddress(map: AddressMap | undefined, host: string, port: number): NodeAddress {
  const announced = `${host}:${port}`;
  const mapped = typeof map === 'function' ? map(announced) : map?.[announced];
  return mapped ? { host: mapped.host, port: Number(mapped.port) } : { host, port };
}
