import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { getAddress, isAddress, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import { MAX_BRIDGE, MAX_COMMITTEE, MAX_K } from "../net/message.js";
import { RelayerError } from "../util/relayerError.js";
import { blsPublicKey, blsSecretKey } from "../view/blsScheme.js";

/** One chain the node knows: its contracts and its committee. */
export type ChainConfig = {
  chainId: bigint;
  /** JSON-RPC endpoint, when the node reads this chain directly. */
  rpcUrl?: string;
  gateway: Address;
  registry: Address;
  /** Checksummed, in the file's order. */
  committee: Address[];
  /** Window size of the chain's views. */
  k: number;
  /**
   * When the chain's committee signs with BLS12-381: the members' G2 public keys (EIP-2537 encoding, 256 bytes), in
   * `committee` order, as its ViewRegistry registration names them. A node derives its own BLS key from its key.
   */
  blsKeys?: Hex[];
  /**
   * How many blocks behind the chain's head a block must be before the chain's own nodes sign a view of it: deep enough
   * that the chain never reorganizes below it. 0 (the default) suits instant finality, as on the devnet.
   */
  finalityDepth: number;
};

export type PeerConfig = { address: Address; url: string };

export type RatesConfig = {
  /** How often the node polls its chain for new blocks. */
  pollMs: number;
  /**
   * The committee certifies its chain's view of every this many blocks unasked: the fresh view gossip carries. Between
   * them a view is certified only when a check() answer needs one (the Cosigner's certify).
   */
  viewSignEvery: number;
  /** How long a check() request waits for its answer. */
  requestTimeoutMs: number;
  /** How long the other nodes wait before taking over a task of the chosen submitter. */
  takeoverMs: number;
  /** Requests a peer may make per second before it is rate-limited. */
  maxRequestsPerSecond: number;
};

export type GossipConfig = {
  /** Probability of pushing the view list to each other system when it changed (the paper's send rate). */
  sendRate: number;
  /** The pacemaker: every this many blocks the round's pusher sends its whole view list to one other system in turn. */
  pacemakerBlocks: number;
  /** Blocks per gossip round: one member of the committee pushes per round, in committee order (section IV.C). */
  roundBlocks: number;
  /** Gossip messages taken from one peer per second, at most. */
  maxPerPeerPerSecond: number;
  /** Invalid gossip messages after which a peer is cut off. */
  maxStrikes: number;
  /**
   * Whether a push carries a view as its head above the newest view of its chain the receiver is known to hold (its
   * window only when the receiver cannot connect without it). False sends whole views only: for a network whose peers
   * run a version without view heads, whose decoder refuses an update that carries them.
   */
  viewHeads: boolean;
};

/** One relayer node's configuration, validated. */
export type NodeConfig = {
  chainId: bigint;
  /** The validator key (read from `key` or from the environment variable `keyEnv`). */
  key: Hex;
  /** The address of `key`, a member of the own chain's committee. */
  address: Address;
  rpcUrl: string;
  /** A WebSocket endpoint of the chain that pushes new heads (eth_subscribe); the node polls rpcUrl while it is silent or down. */
  headsUrl?: string;
  listen: { host: string; port: number };
  metrics?: { host: string; port: number };
  /** SQLite file (or ":memory:"). */
  store: string;
  k: number;
  r: { numerator: number; denominator: number };
  chains: ChainConfig[];
  peers: PeerConfig[];
  rates: RatesConfig;
  gossip: GossipConfig;
  /**
   * Registry refresh: when this chain's ViewRegistry's newest view of another chain is more than this many blocks behind
   * the newest view of it the node knows (its view list), one node of the committee asks that chain's nodes for their
   * newest view and bridge and posts it with submitView, so that registrations keep passing the Gateway's lifetime check
   * (h2 ≤ the counterparty's accepted height + maxLifetime) when no swap posted a view for a while. Unset: the default,
   * defaultRefreshBlocks(maxLifetime) of the node's own Gateway, read once when the node starts.
   */
  refreshBlocks?: number;
  /**
   * The retention window: the node keeps its own chain's certified views and block hashes of the newest this many heights
   * below its newest certified view, and prunes older ones. Default and minimum: defaultRetentionBlocks(k).
   */
  retentionBlocks: number;
};

export const DEFAULT_RATES: RatesConfig = {
  pollMs: 1_000,
  viewSignEvery: 10,
  requestTimeoutMs: 10_000,
  takeoverMs: 30_000,
  maxRequestsPerSecond: 50,
};

/**
 * The rates of a node whose chain makes a block every `blockMs`: it polls once per block (a poll is one request for the
 * newest block, its logs read only when its bloom names the node's contracts, so an idle node costs its endpoint one
 * request a block), and a takeover waits a number of blocks rather than seconds, so that on fast chains a silent
 * designated node still leaves a swap time to settle. The devnet's nodes run with these, and the simulator models them.
 */
export function ratesForBlockTime(blockMs: number): RatesConfig {
  return {
    ...DEFAULT_RATES,
    pollMs: Math.max(50, Math.min(DEFAULT_RATES.pollMs, blockMs)),
    takeoverMs: Math.max(5_000, Math.min(DEFAULT_RATES.takeoverMs, 20 * blockMs)),
  };
}

export const DEFAULT_GOSSIP: GossipConfig = {
  sendRate: 0.3,
  pacemakerBlocks: 10,
  roundBlocks: 1,
  maxPerPeerPerSecond: 20,
  maxStrikes: 10,
  viewHeads: true,
};

/**
 * The default refreshBlocks: a quarter of the Gateway's maxLifetime, so that a registry lags the head by little more than
 * maxLifetime / 4 and a registration with an expiry up to about 3/4 of maxLifetime ahead always passes; at most
 * MAX_BRIDGE / 2 (a refresh's bridge spans about that many blocks, and a node serves at most MAX_BRIDGE), at least 1.
 */
export function defaultRefreshBlocks(maxLifetime: bigint): number {
  const quarter = maxLifetime / 4n;
  return Number(quarter < 1n ? 1n : quarter > BigInt(MAX_BRIDGE / 2) ? BigInt(MAX_BRIDGE / 2) : quarter);
}

/**
 * The default (and smallest) retentionBlocks: MAX_BRIDGE + k. What anyone may still ask a node for reaches back that far
 * and no further. A check() answer bridges from the requester's known height to the start of the newest view's window
 * (k below the view) with at most MAX_BRIDGE block hashes, so no answer needs a hash below newest − k − MAX_BRIDGE + 1. A
 * view-pull starts from the asker's newest view of this chain, and the asker's view list takes every view its own
 * registry accepts, which the registry refresh keeps within such a bridge of the newest: a node further behind catches up
 * through its registry (a check() answer with a bridge), not through a pull. Pruning runs against the newest certified
 * view, never the unsigned head, so a node whose signing lags keeps more, not less. Keeping less than this would refuse
 * requests the protocol allows; keeping more only costs disk.
 */
export function defaultRetentionBlocks(k: number): number {
  return MAX_BRIDGE + k;
}

export type NodeConfigIssue = { path: string; message: string };

/** The configuration is unreadable or invalid; `issues` name every bad field. */
export class NodeConfigError extends RelayerError {
  constructor(
    readonly issues: readonly NodeConfigIssue[],
    readonly source?: string,
    options?: { cause?: unknown },
  ) {
    super(
      `invalid node configuration${source === undefined ? "" : ` ${source}`}:\n` + issues.map((i) => `  ${i.path}: ${i.message}`).join("\n"),
      options,
    );
  }
}

const PRIVATE_KEY = /^0x[0-9a-fA-F]{64}$/;

const chainIdSchema = z
  .union([z.number().int().positive().max(Number.MAX_SAFE_INTEGER), z.string().regex(/^[1-9][0-9]*$/, "Expected a decimal chain id")])
  .transform((v) => BigInt(v));

const addressSchema = z.string().refine((v) => isAddress(v), "Invalid address").transform((v) => getAddress(v));

const urlSchema = (protocols: readonly string[]) =>
  z
    .string()
    .url()
    .refine((v) => URL.canParse(v) && protocols.includes(new URL(v).protocol), `Expected a ${protocols.map((p) => p.replace(":", "")).join(" or ")} URL`);

const portSchema = z.number().int().min(0).max(65_535);
const positiveInt = z.number().int().positive();
// The ViewRegistry refuses a larger window or committee, and peers' messages are bounded by them (messageSchema.ts):
// a node configured beyond them could never post a view, nor take its peers' views of it.
const windowSchema = positiveInt.max(MAX_K, `A window k is at most ${MAX_K} blocks (the ViewRegistry's MAX_K)`);

const chainSchema = z
  .object({
    chainId: chainIdSchema,
    rpcUrl: urlSchema(["http:", "https:", "ws:", "wss:"]).optional(),
    gateway: addressSchema,
    registry: addressSchema,
    committee: z
      .array(addressSchema)
      .min(1, "A committee has at least one member")
      .max(MAX_COMMITTEE, `A committee has at most ${MAX_COMMITTEE} members (the ViewRegistry's MAX_COMMITTEE)`),
    k: windowSchema,
    blsKeys: z
      .array(z.string().regex(/^0x[0-9a-f]{512}$/, "Expected a 256-byte BLS12-381 G2 key in lower-case hex (EIP-2537 encoding)"))
      .optional(),
    finalityDepth: z.number().int().min(0).default(0),
  })
  .strict();

/** The file's shape, field by field; `parseNodeConfig` adds the key and the rules across fields. */
export const nodeConfigFileSchema = z
  .object({
    chainId: chainIdSchema,
    key: z.string().regex(PRIVATE_KEY, "Expected a 0x-prefixed 32-byte private key").optional(),
    keyEnv: z.string().min(1).optional(),
    // HTTP only: viem's WebSocket transport does not recover once its endpoint went away and came back (tried: every
    // request after the endpoint returned still failed), and a node must outlive its endpoint's restarts.
    rpcUrl: urlSchema(["http:", "https:"]),
    // The same chain's WebSocket endpoint, for the heads it pushes (NewHeads); without it, or while it is down, the node polls rpcUrl.
    headsUrl: urlSchema(["ws:", "wss:"]).optional(),
    listen: z.object({ host: z.string().min(1).default("0.0.0.0"), port: portSchema }).strict(),
    metrics: z.object({ host: z.string().min(1).default("127.0.0.1"), port: portSchema }).strict().optional(),
    store: z.string().min(1),
    k: windowSchema,
    r: z
      .object({ numerator: positiveInt, denominator: positiveInt })
      .strict()
      .refine((r) => r.numerator <= r.denominator, "Expected 0 < r ≤ 1 (numerator ≤ denominator)")
      .default({ numerator: 2, denominator: 3 }),
    chains: z.array(chainSchema).min(1),
    peers: z.array(z.object({ address: addressSchema, url: urlSchema(["ws:", "wss:"]) }).strict()).default([]),
    rates: z
      .object({
        pollMs: positiveInt.default(DEFAULT_RATES.pollMs),
        viewSignEvery: positiveInt.default(DEFAULT_RATES.viewSignEvery),
        requestTimeoutMs: positiveInt.default(DEFAULT_RATES.requestTimeoutMs),
        takeoverMs: positiveInt.default(DEFAULT_RATES.takeoverMs),
        maxRequestsPerSecond: z.number().positive().default(DEFAULT_RATES.maxRequestsPerSecond),
      })
      .strict()
      .default({}),
    gossip: z
      .object({
        sendRate: z.number().min(0).max(1).default(DEFAULT_GOSSIP.sendRate),
        pacemakerBlocks: positiveInt.default(DEFAULT_GOSSIP.pacemakerBlocks),
        roundBlocks: positiveInt.default(DEFAULT_GOSSIP.roundBlocks),
        maxPerPeerPerSecond: positiveInt.default(DEFAULT_GOSSIP.maxPerPeerPerSecond),
        maxStrikes: positiveInt.default(DEFAULT_GOSSIP.maxStrikes),
        viewHeads: z.boolean().default(DEFAULT_GOSSIP.viewHeads),
      })
      .strict()
      .default({}),
    refreshBlocks: positiveInt.max(MAX_BRIDGE / 2, `At most ${MAX_BRIDGE / 2}: a refresh bridges about that many blocks, and a node serves bridges of at most ${MAX_BRIDGE}`).optional(),
    retentionBlocks: positiveInt.optional(),
  })
  .strict();

export type NodeConfigFile = z.input<typeof nodeConfigFileSchema>;

export type ParseNodeConfigOptions = {
  /** Where `keyEnv` is looked up; defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Named in the error message (e.g. the file path). */
  source?: string;
};

/** Validates a parsed JSON configuration; throws NodeConfigError naming every bad field. */
export function parseNodeConfig(raw: unknown, { env = process.env, source }: ParseNodeConfigOptions = {}): NodeConfig {
  const parsed = nodeConfigFileSchema.safeParse(raw);
  if (!parsed.success) throw new NodeConfigError(parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })), source);
  const file = parsed.data;
  const issues: NodeConfigIssue[] = [];
  const issue = (path: (string | number)[], message: string) => issues.push({ path: formatPath(path), message });

  // The key: exactly one of `key` and `keyEnv`, never echoed in a message.
  let key: Hex | undefined;
  if (file.key !== undefined && file.keyEnv !== undefined) issue(["keyEnv"], "Set either key or keyEnv, not both");
  else if (file.key !== undefined) key = file.key as Hex;
  else if (file.keyEnv !== undefined) {
    const value = env[file.keyEnv];
    if (value === undefined || value === "") issue(["keyEnv"], `Environment variable ${file.keyEnv} is not set`);
    else if (!PRIVATE_KEY.test(value.trim())) issue(["keyEnv"], `Environment variable ${file.keyEnv} does not hold a 0x-prefixed 32-byte private key`);
    else key = value.trim() as Hex;
  } else issue(["key"], "Required: set key (a 0x-prefixed 32-byte private key) or keyEnv (the name of an environment variable holding it)");
  let address: Address | undefined;
  if (key !== undefined) {
    try {
      address = privateKeyToAccount(key).address;
    } catch {
      issue([file.keyEnv !== undefined ? "keyEnv" : "key"], "Not a valid secp256k1 private key");
    }
  }

  const seenChains = new Map<bigint, number>();
  file.chains.forEach((chain, i) => {
    const first = seenChains.get(chain.chainId);
    if (first !== undefined) issue(["chains", i, "chainId"], `Duplicate chain ${chain.chainId} (also chains[${first}])`);
    else seenChains.set(chain.chainId, i);
    const seenMembers = new Map<Address, number>();
    chain.committee.forEach((member, j) => {
      const earlier = seenMembers.get(member);
      if (earlier !== undefined) issue(["chains", i, "committee", j], `Duplicate committee member ${member} (also committee[${earlier}])`);
      else seenMembers.set(member, j);
    });
    if (chain.blsKeys !== undefined && chain.blsKeys.length !== chain.committee.length) {
      issue(["chains", i, "blsKeys"], `${chain.blsKeys.length} BLS keys for a committee of ${chain.committee.length}`);
    }
  });

  const ownIndex = seenChains.get(file.chainId);
  if (ownIndex === undefined) issue(["chainId"], `Own chain ${file.chainId} is missing from chains`);
  else {
    const own = file.chains[ownIndex]!;
    if (own.k !== file.k) issue(["chains", ownIndex, "k"], `Own chain's k (${own.k}) differs from k (${file.k})`);
    if (address !== undefined && !own.committee.includes(address))
      issue([file.keyEnv !== undefined ? "keyEnv" : "key"], `The node's address ${address} is not in the committee of its chain (chains[${ownIndex}].committee)`);
    else if (address !== undefined && key !== undefined && own.blsKeys !== undefined) {
      const j = own.committee.indexOf(address);
      if (own.blsKeys[j] !== blsPublicKey(blsSecretKey(key))) issue(["chains", ownIndex, "blsKeys", j], `Not the BLS key of the node's key (blsPublicKey(blsSecretKey(key)))`);
    }
  }

  if (file.retentionBlocks !== undefined && file.retentionBlocks < defaultRetentionBlocks(file.k)) {
    issue(["retentionBlocks"], `At least ${defaultRetentionBlocks(file.k)} (MAX_BRIDGE + k): a requester may ask for a bridge of ${MAX_BRIDGE} blocks below the newest view's window`);
  }

  const members = new Set(file.chains.flatMap((c) => c.committee));
  const seenPeers = new Map<Address, number>();
  file.peers.forEach((peer, i) => {
    const earlier = seenPeers.get(peer.address);
    if (earlier !== undefined) issue(["peers", i, "address"], `Duplicate peer ${peer.address} (also peers[${earlier}])`);
    else seenPeers.set(peer.address, i);
    if (peer.address === address) issue(["peers", i, "address"], "A node is not its own peer");
    else if (!members.has(peer.address)) issue(["peers", i, "address"], `Peer ${peer.address} is in no configured committee`);
  });

  if (issues.length > 0 || key === undefined || address === undefined) throw new NodeConfigError(issues, source);

  return {
    chainId: file.chainId,
    key,
    address,
    rpcUrl: file.rpcUrl,
    ...(file.headsUrl === undefined ? {} : { headsUrl: file.headsUrl }),
    listen: file.listen,
    ...(file.metrics === undefined ? {} : { metrics: file.metrics }),
    store: file.store,
    k: file.k,
    r: file.r,
    chains: file.chains.map(({ rpcUrl, blsKeys, ...chain }) => ({
      ...chain,
      ...(rpcUrl === undefined ? {} : { rpcUrl }),
      ...(blsKeys === undefined ? {} : { blsKeys: blsKeys as Hex[] }),
    })),
    peers: file.peers,
    rates: file.rates,
    gossip: file.gossip,
    ...(file.refreshBlocks === undefined ? {} : { refreshBlocks: file.refreshBlocks }),
    retentionBlocks: file.retentionBlocks ?? defaultRetentionBlocks(file.k),
  };
}

export type LoadNodeConfigParameters = {
  /** A JSON file. A relative `store` path in it is taken relative to the file's directory. */
  path: string;
  env?: Record<string, string | undefined>;
};

/** Reads, parses and validates one node's configuration file; throws NodeConfigError. */
export async function loadNodeConfig({ path, env = process.env }: LoadNodeConfigParameters): Promise<NodeConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new NodeConfigError([{ path: "(file)", message: `cannot read: ${(error as Error).message}` }], path, { cause: error });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new NodeConfigError([{ path: "(file)", message: `not JSON: ${(error as Error).message}` }], path, { cause: error });
  }
  const config = parseNodeConfig(raw, { env, source: path });
  if (config.store !== ":memory:" && !isAbsolute(config.store)) config.store = resolve(dirname(path), config.store);
  return config;
}

/** zod's path as a reader writes it: `chains[1].gateway`. */
function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return "(root)";
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`)).join("");
}
