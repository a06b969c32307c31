/**
 * A devnet of real processes: one `hardhat node` per chain, contracts deployed, every chain registered
 * and bonded on every other, one relayer configuration and (unless --no-relayers) one relayer process per validator.
 *   tsx scripts/devnet.ts up [--chains 3] [--validators 4] [--base-port 8545] [--k 16] [--block-ms 500] [--dir .devnet] [--no-relayers]
 *                            [--compensation-window 100] [--max-lifetime 1000] [--claim-period 1200]
 *   tsx scripts/devnet.ts status [--dir .devnet]
 *   tsx scripts/devnet.ts down [--dir .devnet]
 * `up` stays in the foreground with the chains and relayers; Ctrl-C (or `down` from another shell) stops them, relayers first.
 * Relayer logs: <dir>/logs/relayer-<chainId>-<address>.log. The same as `fibc devnet …`; the work is in relayer/devnet/devnetCli.ts.
 */
import { devnetMain } from "../relayer/devnet/devnetCli.js";

process.exitCode = await devnetMain(process.argv.slice(2), "tsx scripts/devnet.ts");
