import { createRequire } from "node:module";
import { defineConfig } from "hardhat/config";
import hardhatViem from "@nomicfoundation/hardhat-viem";
import hardhatMocha from "@nomicfoundation/hardhat-mocha";

const require = createRequire(import.meta.url);

/** In-process chains of the test suite: one EVM chain per system of the paper, each with its own chainId. */
const chain = (chainId: number) =>
  ({ type: "edr-simulated", chainType: "l1", chainId, hardfork: "prague", allowUnlimitedContractSize: false }) as const;

export default defineConfig({
  plugins: [hardhatViem, hardhatMocha],
  solidity: {
    // solc cannot be downloaded on our machines: the `solc` npm package ships the same compiler as WebAssembly.
    version: "0.8.30",
    path: require.resolve("solc/soljson.js"),
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "prague", viaIR: true },
  },
  networks: {
    chainA: chain(1001),
    chainB: chain(1002),
    chainC: chain(1003),
  },
  test: { mocha: { timeout: 120_000, reporter: require.resolve("./test/summaryReporter.cjs") } },
});
