import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createPublicClient, createTestClient, formatEther, http, keccak256, parseEther, stringToHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { DEFAULT_GOSSIP, parseNodeConfig, ratesForBlockTime, type GossipConfig, type NodeConfigFile } from "../config/nodeConfig.js";
import { ChainProcess } from "./chainProcess.js";
import { connect, transact } from "./connect.js";
import { assertGatewaySettings, DEFAULT_GATEWAY_SETTINGS, deployChain, type DeployedChain, type GatewaySettings } from "./deployChain.js";
import { DevnetError } from "./devnetError.js";
import { isRunning, portInUse, signal, terminate, type ProcessRecord } from "./processes.js";
import { registerChains } from "./registerChains.js";
import { compileRelayer, fetchStatus, RelayerProcess, summarize, type RelayerSummary } from "./relayerProcess.js";
import { HARDHAT_ACCOUNT_0_KEY } from "./testAccounts.js";
import { blsPublicKey, blsSecretKey } from "../view/blsScheme.js";

/** The first chain's id; chain i gets FIRST_CHAIN_ID + i. */
export const FIRST_CHAIN_ID = 31001;
/** The committees' threshold fraction: ceil(2q/3) signatures. */
export const DEVNET_R = { numerator: 2, denominator: 3 } as const;
export const DEVNET_BOND = parseEther("1000");
/** Share of a slashed bond paid to whoever reported the fork. */
export const DEVNET_SLASH_REWARD_BPS = 1_000n;
/** Share of a slashed bond kept for the users the fork harmed; also the share of a bond that contracts may be worth. */
export const DEVNET_POOL_BPS = 4_000n;
const HOST = "127.0.0.1";
/** Every process on this host's loopback, started as it is. */
const LOOPBACK: DevnetPlacement = { host: () => HOST, prefix: () => [] };
const OWNER_BALANCE = parseEther("1000000");
/** Native coin each validator gets for the gas of its relayer's transactions. */
const VALIDATOR_FUNDS = parseEther("10");

export type DevnetUpParameters = {
  /** Number of chains (systems). */
  chains: number;
  /** Committee size q of every chain; one relayer node per validator. */
  validatorsPerChain: number;
  /** Chain i listens on basePort + i; then come the relayers' listen ports, then their metrics ports. */
  basePort: number;
  /** Window size of every chain's views. */
  k: number;
  /** Milliseconds between blocks (interval mining). */
  blockMs: number;
  /** Where devnet.json, nodes/, stores/ and logs/ go. */
  dir: string;
  /** Bond each chain posts on every other one; default 1000 ETH. */
  bond?: bigint;
  /** Start one relayer process per validator and wait until each answers GET /status; default true. */
  relayers?: boolean;
  /** How long to wait for each relayer's /status; default 60 s. */
  relayerReadyTimeoutMs?: number;
  /** Gossip settings of every relayer (send rate, pacemaker…) over the defaults. */
  gossip?: Partial<GossipConfig>;
  /** The Gateways' compensation window, maximum lifetime and claim period; default DEFAULT_GATEWAY_SETTINGS (100 / 1000 / 1200 blocks). */
  gateway?: Partial<GatewaySettings>;
  /** Indices of the chains whose committees sign with BLS12-381 aggregates (the others sign with ECDSA); default none. */
  blsChains?: readonly number[];
  /** Where each chain and its relayers run; default every process on 127.0.0.1 of this host. */
  placement?: DevnetPlacement;
  /** The URLs the relayers use to reach their chains and one another; default the addresses they listen on. */
  links?: DevnetLinks;
};

/**
 * Hosts of their own for the chains: chain i's process and its relayers listen on `host(i)` and are started through
 * `prefix(i)` (e.g. `ip netns exec <namespace>`), so that a network between hosts can be cut for real.
 */
export type DevnetPlacement = { host(chain: number): string; prefix(chain: number): string[] };

/**
 * Links between processes that something in between may carry (a proxy that can cut them): the URL relayer `relayer` of
 * chain `chain` uses for its chain's JSON-RPC at `url`, and the URL relayer `from` dials to reach its peer `to` listening at `url`.
 */
export type DevnetLinks = {
  rpc(p: { relayer: Address; chain: number; url: string }): Promise<string>;
  peer(p: { from: Address; to: Address; url: string }): Promise<string>;
};

export type DevnetDeployParameters = {
  /** One JSON-RPC endpoint per chain: any EVM node (Hardhat, Anvil, …) whose chains mine blocks by themselves. */
  rpcUrls: string[];
  /** Committee size q of every chain; one relayer node per validator. */
  validatorsPerChain: number;
  /** The relayers listen on basePort.., their metrics servers come after. */
  basePort: number;
  k: number;
  /** About how many milliseconds pass between blocks: the relayers poll twice per block. */
  blockMs: number;
  dir: string;
  /** Deploys, owns, posts the bonds and funds the validators; default Hardhat's and Anvil's test account #0. */
  ownerKey?: Hex;
  bond?: bigint;
  relayers?: boolean;
  relayerReadyTimeoutMs?: number;
  gateway?: Partial<GatewaySettings>;
};

export type DevnetMember = { address: Address; key: Hex };

export type DevnetChain = {
  chainId: string;
  url: string;
  /** The `hardhat node` process `up` started; absent for a chain `deploy` found running. */
  process?: ProcessRecord;
  log?: string;
  registry: Address;
  gateway: Address;
  token: Address;
  /** In ascending address order (the registry's order). */
  committee: DevnetMember[];
  /** How the committee signs its views (each member's BLS key derives from its key: blsSecretKey); absent: ECDSA (older files). */
  scheme?: "ECDSA" | "BLS";
};

/** A relayer process `up` started from one of `nodeConfigs`. */
export type DevnetRelayer = {
  config: string;
  chainId: string;
  address: Address;
  /** Its metrics server's GET /status. */
  statusUrl: string;
  /** How many peers its config lists (every other validator). */
  peers: number;
  log: string;
  /** `node dist/relayer.mjs`; it leads its own process group (`group: true`). */
  process: ProcessRecord;
};

/** dir/devnet.json: everything `down`, `status` and the relayers need. Devnet keys are derived from public strings: never use them elsewhere. */
export type DevnetFile = {
  createdAt: string;
  k: number;
  r: { numerator: number; denominator: number };
  blockMs: number;
  /** Wei, decimal. */
  bond: string;
  /** What every chain's ViewRegistry was deployed with: a slashed bond's reporter reward and compensation pool, in basis points. */
  registry: { slashRewardBps: number; poolBps: number };
  /** What every chain's Gateway was deployed with, in blocks (decimal strings). */
  gateway: { compensationWindow: string; maxLifetime: string; claimPeriod: string };
  /** Deployer and owner of every chain's contracts. */
  owner: DevnetMember;
  chains: DevnetChain[];
  /** One relayer configuration file per validator, for `npm run relayer -- --config <file>`. */
  nodeConfigs: string[];
  relayers: DevnetRelayer[];
};

export type DevnetStatus = {
  /** `pid` is absent for a chain the devnet did not start. */
  chains: { chainId: string; url: string; pid?: number; alive: boolean; height?: bigint }[];
  relayers: { config: string; chainId: string; address: Address; pid: number; alive: boolean; status: RelayerSummary | "down" }[];
};

export type DevnetOptions = {
  /** Progress in words, one line per step. */
  log?: (line: string) => void;
  /** The repository root (hardhat, artifacts); default the one holding this file. */
  root?: string;
};

/** A devnet of real processes: one `hardhat node` per chain, contracts deployed, every chain registered and bonded on every other. */
export class Devnet {
  readonly #log: (line: string) => void;
  readonly #root: string;
  #started: ChainProcess[] = [];
  #relayers: RelayerProcess[] = [];
  /** Where `up` put the devnet, and how its relayers are started: what a restart needs. */
  #home: { dir: string; prefixOf: (chainId: string) => string[] } | undefined;

  constructor({ log = () => {}, root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..") }: DevnetOptions = {}) {
    this.#log = log;
    this.#root = root;
  }

  /** The chain processes this instance started and has not stopped. */
  get chains(): readonly ChainProcess[] {
    return this.#started;
  }

  /** The relayer processes this instance started and has not stopped. */
  get relayers(): readonly RelayerProcess[] {
    return this.#relayers;
  }

  /**
   * Starts the chains, deploys, registers, writes dir/devnet.json and dir/nodes/<address>.json, then (unless
   * `relayers: false`) starts one relayer process per validator and waits until each answers GET /status.
   * On failure stops what it started.
   */
  async up({ chains: n, validatorsPerChain: q, basePort, k, blockMs, dir, bond = DEVNET_BOND, relayers = true, relayerReadyTimeoutMs = 60_000, gossip = {}, gateway = {}, blsChains = [], placement = LOOPBACK, links }: DevnetUpParameters): Promise<DevnetFile> {
    const settings = gatewaySettings(gateway);
    assertInt("chains", n, 1, 1_000);
    assertInt("validatorsPerChain", q, 1, 256);
    assertInt("k", k, 1, 256);
    assertInt("blockMs", blockMs, 1, 3_600_000);
    assertInt("basePort", basePort, 1, 65_535 - n - 2 * n * q + 1);
    dir = resolve(dir);
    await this.#refuseIfRunning(dir);
    await clearRun(dir);
    const chainPorts = range(n).map((i) => basePort + i);
    // Hosts of their own start with every port free; this host's loopback may not.
    const loopback = placement === LOOPBACK;
    if (loopback) await assertPortsFree(chainPorts, `${basePort}..${basePort + n + 2 * n * q - 1}`);
    const relayerPorts = await this.#relayerPorts(basePort + n, n * q, loopback);

    try {
      const processes = await this.#startChains(chainPorts, dir, placement);
      const owner = member(keccak256(stringToHex("devnet/owner")));
      await Promise.all(
        processes.map((p) => createTestClient({ mode: "hardhat", transport: http(p.url) }).setBalance({ address: owner.address, value: OWNER_BALANCE })),
      );
      this.#log(`funded the owner ${owner.address} on each chain`);
      const chains = await this.#deployAndRegister({ endpoints: processes.map((p) => ({ url: p.url, process: p })), owner, q, k, bond, settings, blsChains });
      // Deployment ran with automine (a block per transaction, fast); from here on a block comes every blockMs and only
      // then, as on a real chain, so that expiries in blocks mean the same time whatever the load. The raw call: viem's
      // setIntervalMining takes seconds on Hardhat, and blocks come faster than one a second here. The log of every
      // JSON-RPC call stops there (it keeps the node's start and the deployment): the relayers call each node several
      // times a block, so it grew without end and said little; printing and decoding a call cost a node as much CPU as
      // answering a cheap one.
      for (const p of processes) {
        const test = createTestClient({ mode: "hardhat", transport: http(p.url) });
        await test.request({ method: "evm_setIntervalMining", params: [blockMs] });
        await test.setAutomine(false);
        await test.setLoggingEnabled(false);
      }
      this.#log(`interval mining: a block every ${blockMs} ms on each chain, transactions wait for it; the chains log no more JSON-RPC calls`);
      return await this.#configureRelayers({ dir, chains, owner, k, blockMs, bond, settings, relayerPorts, relayers, relayerReadyTimeoutMs, gossip, placement, links });
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /**
   * What `up` does after starting its chains, against chains someone else runs: any EVM JSON-RPC endpoints (Hardhat, Anvil,
   * a testnet node). The owner key deploys, registers, posts the bonds and funds each validator with `validatorFunds` by a
   * plain transfer, so it needs (chains − 1) × bond + q × validatorFunds of native coin on each chain, plus gas. The chains
   * mine as they are set up to; `blockMs` only sets how often the relayers poll. `down` stops the relayers it started, never
   * the chains. On failure stops the relayers it started.
   */
  async deploy({
    rpcUrls,
    validatorsPerChain: q,
    basePort,
    k,
    blockMs,
    dir,
    ownerKey = HARDHAT_ACCOUNT_0_KEY,
    bond = DEVNET_BOND,
    relayers = true,
    relayerReadyTimeoutMs = 60_000,
    gateway = {},
  }: DevnetDeployParameters): Promise<DevnetFile> {
    const settings = gatewaySettings(gateway);
    assertInt("chains", rpcUrls.length, 1, 1_000);
    assertInt("validatorsPerChain", q, 1, 256);
    assertInt("k", k, 1, 256);
    assertInt("blockMs", blockMs, 1, 3_600_000);
    assertInt("basePort", basePort, 1, 65_535 - 2 * rpcUrls.length * q + 1);
    dir = resolve(dir);
    await this.#refuseIfRunning(dir);
    await clearRun(dir);
    const relayerPorts = await this.#relayerPorts(basePort, rpcUrls.length * q, true);
    try {
      const owner = member(ownerKey);
      const chains = await this.#deployAndRegister({ endpoints: rpcUrls.map((url) => ({ url })), owner, q, k, bond, settings });
      return await this.#configureRelayers({ dir, chains, owner, k, blockMs, bond, settings, relayerPorts, relayers, relayerReadyTimeoutMs, gossip: {}, placement: LOOPBACK, links: undefined });
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Stops the relayer processes, then the chain processes, this instance started. */
  async stop(): Promise<void> {
    const relayers = this.#relayers;
    this.#relayers = [];
    await Promise.all(relayers.map((r) => r.stop()));
    const started = this.#started;
    this.#started = [];
    await Promise.all(started.map((p) => p.stop()));
  }

  /** Stops the relayer processes of chain `chainId` this instance started (its committee falls silent); returns how many. */
  async stopRelayersOf(chainId: string): Promise<number> {
    const ofChain = this.#relayers.filter((r) => r.chainId === chainId);
    this.#relayers = this.#relayers.filter((r) => r.chainId !== chainId);
    await Promise.all(ofChain.map((r) => r.stop()));
    return ofChain.length;
  }

  /** A crash of relayer `config` (a process this instance started): SIGKILL to its process group, so no shutdown code runs. */
  async crashRelayer(config: string): Promise<void> {
    const relayer = this.#relayers.find((r) => r.config === config);
    if (relayer === undefined) throw new DevnetError(`no relayer of ${config} runs here`);
    this.#relayers = this.#relayers.filter((r) => r !== relayer);
    signal(-relayer.pid, "SIGKILL");
    await relayer.exited;
  }

  /**
   * Starts relayer `config` again after a crash (its store, ports and log as before), records its new pid in devnet.json
   * and waits until it answers GET /status.
   */
  async restartRelayer(config: string, readyTimeoutMs = 60_000): Promise<RelayerProcess> {
    if (this.#home === undefined) throw new DevnetError("only a devnet this instance started can restart its relayers");
    if (this.#relayers.some((r) => r.config === config)) throw new DevnetError(`relayer ${config} is running`);
    const file = await readDevnetFile(this.#home.dir);
    const record = file.relayers.find((r) => r.config === config);
    if (record === undefined) throw new DevnetError(`${config} is no relayer of the devnet in ${this.#home.dir}`);
    const node = parseNodeConfig(JSON.parse(await readFile(config, "utf8")), { source: config });
    const p = await RelayerProcess.spawn({ config, chainId: record.chainId, metrics: node.metrics!, root: this.#root, logFile: record.log, prefix: this.#home.prefixOf(record.chainId) });
    this.#relayers.push(p);
    record.process = p.record;
    await writeDevnetFile(this.#home.dir, file);
    await p.ready(readyTimeoutMs);
    return p;
  }

  /** Stops every process recorded in dir/devnet.json, relayers first; returns how many were running. */
  async down({ dir }: { dir: string }): Promise<number> {
    const file = await readDevnetFile(dir);
    let stopped = 0;
    const stopOne = async (what: string, record: ProcessRecord) => {
      if (await terminate(record)) {
        stopped++;
        this.#log(`stopped ${what} (pid ${record.pid})`);
      } else this.#log(`${what} (pid ${record.pid}) was not running`);
    };
    await Promise.all(file.relayers.map((r) => stopOne(`relayer ${r.config}`, r.process)));
    await Promise.all(file.chains.map((c) => (c.process === undefined ? undefined : stopOne(`chain ${c.chainId}`, c.process))));
    this.#relayers = this.#relayers.filter((r) => r.running);
    this.#started = this.#started.filter((p) => p.running);
    return stopped;
  }

  /** Each chain's process and head height; each relayer's process and a summary of its GET /status, or "down". */
  async status({ dir }: { dir: string }): Promise<DevnetStatus> {
    const file = await readDevnetFile(dir);
    const chains = await Promise.all(
      file.chains.map(async (c) => {
        const height = c.process === undefined || isRunning(c.process)
          ? await createPublicClient({ transport: http(c.url, { retryCount: 0, timeout: 2_000 }) })
              .getBlockNumber({ cacheTime: 0 })
              .catch(() => undefined)
          : undefined;
        const alive = c.process === undefined ? height !== undefined : isRunning(c.process);
        return { chainId: c.chainId, url: c.url, ...(c.process === undefined ? {} : { pid: c.process.pid }), alive, ...(height === undefined ? {} : { height }) };
      }),
    );
    const relayers = await Promise.all(
      file.relayers.map(async (r) => {
        const alive = isRunning(r.process);
        const answer = alive ? await fetchStatus(r.statusUrl) : undefined;
        return { config: r.config, chainId: r.chainId, address: r.address, pid: r.process.pid, alive, status: answer === undefined ? ("down" as const) : summarize(answer, r.peers) };
      }),
    );
    return { chains, relayers };
  }

  /** Listen and metrics ports of `count` relayers from `first` on, checked free (on this host's loopback) before anything starts. */
  async #relayerPorts(first: number, count: number, check: boolean): Promise<{ listen: number[]; metrics: number[] }> {
    const listen = range(count).map((j) => first + j);
    const metrics = range(count).map((j) => first + count + j);
    if (check) await assertPortsFree([...listen, ...metrics], `${first}..${first + 2 * count - 1}`);
    return { listen, metrics };
  }

  /** Deploys on every endpoint, funds q derived validator keys per chain from the owner and registers every chain on every other. */
  async #deployAndRegister({ endpoints, owner, q, k, bond, settings, blsChains = [] }: { endpoints: { url: string; process?: ChainProcess }[]; owner: DevnetMember; q: number; k: number; bond: bigint; settings: GatewaySettings; blsChains?: readonly number[] }): Promise<DevnetChain[]> {
    const deployed = await Promise.all(
      endpoints.map(async ({ url }) => {
        const connection = await connect({ rpcUrl: url, key: owner.key });
        const need = BigInt(endpoints.length - 1) * bond + BigInt(q) * VALIDATOR_FUNDS;
        const has = await connection.publicClient.getBalance({ address: owner.address });
        if (has < need) {
          throw new DevnetError(`the owner ${owner.address} holds ${formatEther(has)} ETH on chain ${connection.chainId} (${url}); it needs ${formatEther(need)} ETH plus gas for the bonds and the validators' gas`);
        }
        const chain = await deployChain({ rpcUrl: url, ownerKey: owner.key, root: this.#root, slashRewardBps: DEVNET_SLASH_REWARD_BPS, poolBps: DEVNET_POOL_BPS, settings });
        this.#log(`chain ${chain.chainId}: ViewRegistry at ${chain.registry}, Gateway at ${chain.gateway}, TestToken at ${chain.token}`);
        const committee = range(q)
          .map((i) => member(keccak256(stringToHex(`devnet/${chain.chainId}/validator/${i}`))))
          .sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1));
        for (const m of committee) {
          await transact(connection, `funding validator ${m.address}`, () => connection.wallet.sendTransaction({ to: m.address, value: VALIDATOR_FUNDS }));
        }
        this.#log(`chain ${chain.chainId}: funded its ${q} validators with ${formatEther(VALIDATOR_FUNDS)} ETH each`);
        return { chain, committee };
      }),
    );
    await registerChains({
      chains: endpoints.map(({ url }, i) => ({
        rpcUrl: url,
        chainId: deployed[i]!.chain.chainId,
        registry: deployed[i]!.chain.registry,
        gateway: deployed[i]!.chain.gateway,
        ownerKey: owner.key,
        committeeKeys: deployed[i]!.committee.map((m) => m.key),
        bls: blsChains.includes(i),
      })),
      k,
      r: DEVNET_R,
      bond,
      root: this.#root,
      onRegistered: (r) => this.#log(`chain ${r.on}: registered chain ${r.chainId} (genesis view at height ${r.genesisHeight}) with a bond of ${formatEther(r.bond)} ETH`),
    });
    return endpoints.map(({ url, process }, i) => devnetChain(url, deployed[i]!.chain, deployed[i]!.committee, blsChains.includes(i) ? "BLS" : "ECDSA", process));
  }

  /** Writes the relayer configurations and devnet.json, then starts the relayers unless told not to. */
  async #configureRelayers(p: {
    dir: string;
    chains: DevnetChain[];
    owner: DevnetMember;
    k: number;
    blockMs: number;
    bond: bigint;
    settings: GatewaySettings;
    relayerPorts: { listen: number[]; metrics: number[] };
    relayers: boolean;
    relayerReadyTimeoutMs: number;
    gossip: Partial<GossipConfig>;
    placement: DevnetPlacement;
    links: DevnetLinks | undefined;
  }): Promise<DevnetFile> {
    await mkdir(join(p.dir, "nodes"), { recursive: true });
    await mkdir(join(p.dir, "stores"), { recursive: true });
    const nodeConfigs = await writeNodeConfigs({ dir: p.dir, chains: p.chains, k: p.k, blockMs: p.blockMs, listenPorts: p.relayerPorts.listen, metricsPorts: p.relayerPorts.metrics, gossip: p.gossip, placement: p.placement, links: p.links });
    this.#log(`wrote ${nodeConfigs.length} relayer configurations under ${join(p.dir, "nodes")}`);
    const file: DevnetFile = {
      createdAt: new Date().toISOString(),
      k: p.k,
      r: { ...DEVNET_R },
      blockMs: p.blockMs,
      bond: p.bond.toString(),
      registry: { slashRewardBps: Number(DEVNET_SLASH_REWARD_BPS), poolBps: Number(DEVNET_POOL_BPS) },
      gateway: {
        compensationWindow: p.settings.compensationWindow.toString(),
        maxLifetime: p.settings.maxLifetime.toString(),
        claimPeriod: p.settings.claimPeriod.toString(),
      },
      owner: p.owner,
      chains: p.chains,
      nodeConfigs,
      relayers: [],
    };
    await writeDevnetFile(p.dir, file);
    if (p.relayers) {
      // Recorded as soon as spawned, so `down` from another shell finds them even while they start.
      const prefixOf = (chainId: string) => p.placement.prefix(p.chains.findIndex((c) => c.chainId === chainId));
      this.#home = { dir: p.dir, prefixOf };
      file.relayers = await this.#startRelayers(nodeConfigs, p.dir, prefixOf);
      await writeDevnetFile(p.dir, file);
      await Promise.all(this.#relayers.map((r) => r.ready(p.relayerReadyTimeoutMs)));
      this.#log(`${this.#relayers.length} relayers answer on their /status`);
    }
    this.#log(`devnet ready: ${join(p.dir, "devnet.json")}`);
    return file;
  }

  async #startChains(ports: number[], dir: string, placement: DevnetPlacement): Promise<ChainProcess[]> {
    const results = await Promise.allSettled(
      ports.map(async (port, i) => {
        const chainId = FIRST_CHAIN_ID + i;
        // Every chain starts at once, each a Node process that loads Hardhat (some seconds of CPU each): on a small machine
        // ten of them took longer than a minute together, so the wait grows with their number.
        const readyTimeoutMs = 60_000 + 10_000 * ports.length;
        const p = await ChainProcess.start({ chainId, port, host: placement.host(i), prefix: placement.prefix(i), root: this.#root, logFile: join(dir, "logs", `chain-${chainId}.log`), readyTimeoutMs });
        this.#started.push(p);
        this.#log(`chain ${chainId} started on ${p.url} (pid ${p.pid}, log ${p.logFile})`);
        return p;
      }),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    return results.map((r) => (r as PromiseFulfilledResult<ChainProcess>).value);
  }

  /**
   * Compiles the relayer where its sources changed, then spawns one relayer per configuration (without waiting for them),
   * each through the command prefix of its chain's host; returns their devnet.json records.
   */
  async #startRelayers(nodeConfigs: string[], dir: string, prefixOf: (chainId: string) => string[]): Promise<DevnetRelayer[]> {
    await compileRelayer(this.#root);
    const records: DevnetRelayer[] = [];
    for (const config of nodeConfigs) {
      const node = parseNodeConfig(JSON.parse(await readFile(config, "utf8")), { source: config });
      const { address } = node;
      const metrics = node.metrics;
      if (metrics === undefined) throw new DevnetError(`${config} has no metrics {host, port}: the devnet needs each relayer's GET /status`);
      const log = join(dir, "logs", `relayer-${node.chainId}-${address}.log`);
      const p = await RelayerProcess.spawn({ config, chainId: node.chainId.toString(), metrics, root: this.#root, logFile: log, prefix: prefixOf(node.chainId.toString()) });
      this.#relayers.push(p);
      this.#log(`relayer ${address} of chain ${node.chainId} started (pid ${p.pid}, log ${log})`);
      records.push({ config, chainId: node.chainId.toString(), address, statusUrl: p.statusUrl, peers: node.peers.length, log, process: p.record });
    }
    return records;
  }

  async #refuseIfRunning(dir: string): Promise<void> {
    if (!existsSync(join(dir, "devnet.json"))) return;
    const file = await readDevnetFile(dir);
    const running = [...file.chains.flatMap((c) => (c.process === undefined ? [] : [c.process])), ...file.relayers.map((r) => r.process)].filter(isRunning);
    if (running.length > 0) {
      throw new DevnetError(`a devnet is already running in ${dir} (pids ${running.map((r) => r.pid).join(", ")}): run \`down\` first`);
    }
  }
}

async function writeDevnetFile(dir: string, file: DevnetFile): Promise<void> {
  await writeFile(join(dir, "devnet.json"), JSON.stringify(file, null, 2) + "\n");
}

/** Reads dir/devnet.json. */
export async function readDevnetFile(dir: string): Promise<DevnetFile> {
  const path = join(resolve(dir), "devnet.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new DevnetError(`no devnet in ${resolve(dir)}: ${path} cannot be read (run \`up\` first)`, { cause: error });
  }
  try {
    return JSON.parse(text) as DevnetFile;
  } catch (error) {
    throw new DevnetError(`${path} is not JSON`, { cause: error });
  }
}

type WriteNodeConfigsParameters = {
  dir: string;
  chains: DevnetChain[];
  k: number;
  blockMs: number;
  listenPorts: number[];
  metricsPorts: number[];
  gossip: Partial<GossipConfig>;
  placement: DevnetPlacement;
  links: DevnetLinks | undefined;
};

/**
 * One configuration per validator, every validator a peer of every other; each is validated before it is written. A
 * validator listens on its chain's host; `links` may put something between it and its chain or its peers.
 */
async function writeNodeConfigs({ dir, chains, k, blockMs, listenPorts, metricsPorts, gossip, placement, links }: WriteNodeConfigsParameters): Promise<string[]> {
  const validators = chains.flatMap((chain, i) => chain.committee.map((m) => ({ chain, index: i, host: placement.host(i), ...m })));
  const listeners = validators.map((v, j) => ({ address: v.address, url: `ws://${v.host}:${listenPorts[j]}` }));
  const chainConfigs = chains.map((c) => ({
    chainId: c.chainId,
    gateway: c.gateway,
    registry: c.registry,
    committee: c.committee.map((m) => m.address),
    k,
    ...(c.scheme === "BLS" ? { blsKeys: c.committee.map((m) => blsPublicKey(blsSecretKey(m.key))) } : {}),
  }));
  const paths: string[] = [];
  for (const [j, v] of validators.entries()) {
    const path = join(dir, "nodes", `${v.address}.json`);
    const peers = await Promise.all(
      listeners.filter((p) => p.address !== v.address).map(async (p) => ({ address: p.address, url: links === undefined ? p.url : await links.peer({ from: v.address, to: p.address, url: p.url }) })),
    );
    const rpcUrl = links === undefined ? v.chain.url : await links.rpc({ relayer: v.address, chain: v.index, url: v.chain.url });
    const config: NodeConfigFile = {
      chainId: v.chain.chainId,
      key: v.key,
      rpcUrl,
      // Hardhat and Anvil serve WebSocket JSON-RPC on their HTTP port: the node takes the heads they push instead of polling.
      headsUrl: rpcUrl.replace(/^http/, "ws"),
      listen: { host: v.host, port: listenPorts[j]! },
      metrics: { host: v.host, port: metricsPorts[j]! },
      store: join(dir, "stores", `${v.address}.sqlite`),
      k,
      r: { ...DEVNET_R },
      chains: chainConfigs,
      peers,
      rates: ratesForBlockTime(blockMs),
      gossip: { ...DEFAULT_GOSSIP, ...gossip },
    };
    parseNodeConfig(config, { source: path });
    await writeFile(path, JSON.stringify(config, null, 2) + "\n");
    paths.push(path);
  }
  return paths;
}

function devnetChain(url: string, deployed: DeployedChain, committee: DevnetMember[], scheme: "ECDSA" | "BLS", process?: ChainProcess): DevnetChain {
  return {
    chainId: deployed.chainId.toString(),
    url,
    ...(process === undefined ? {} : { process: process.record, log: process.logFile }),
    registry: deployed.registry,
    gateway: deployed.gateway,
    token: deployed.token,
    committee,
    scheme,
  };
}

/** `overrides` over DEFAULT_GATEWAY_SETTINGS, checked before anything starts. */
function gatewaySettings(overrides: Partial<GatewaySettings>): GatewaySettings {
  const settings = { ...DEFAULT_GATEWAY_SETTINGS };
  for (const [name, value] of Object.entries(overrides) as [keyof GatewaySettings, bigint | undefined][]) if (value !== undefined) settings[name] = value;
  assertGatewaySettings(settings);
  return settings;
}

function member(key: Hex): DevnetMember {
  return { address: privateKeyToAccount(key).address, key };
}

/** Throws DevnetError naming every port of `ports` something already listens on; `range` describes what the devnet needs. */
/** Removes an earlier run's relayer configurations, stores and logs before anything of this run writes there. */
async function clearRun(dir: string): Promise<void> {
  for (const sub of ["nodes", "stores", "logs"]) await rm(join(dir, sub), { recursive: true, force: true });
}

async function assertPortsFree(ports: number[], range: string): Promise<void> {
  const busy: number[] = [];
  for (const port of ports) if (await portInUse(HOST, port)) busy.push(port);
  if (busy.length > 0) {
    throw new DevnetError(`port${busy.length > 1 ? "s" : ""} ${busy.join(", ")} on ${HOST} already in use; the devnet needs ${range}: stop what listens there or choose another base port`);
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function assertInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new DevnetError(`${name} must be an integer in ${min}..${max}, got ${value}`);
}
