// npm running under Node 20 skips Hardhat's EDR native package, which declares Node >= 22.
// Inside npm scripts `node` is the Node 24 runtime of the `node` npm package (node_modules/.bin
// comes first on PATH), so installing once more from here, under that runtime, brings it back. That install keeps
// package-lock.json as it is: the lock already lists every platform's packages, so a fresh install leaves the tree clean.
// Nothing is needed where Hardhat itself is not installed (`npm install --package-lock-only` runs this script too).
const { existsSync } = require("node:fs");
const { join } = require("node:path");
const { execFileSync } = require("node:child_process");

const root = join(__dirname, "..");
const nomic = join(root, "node_modules", "@nomicfoundation");
const native = join(nomic, `edr-${process.platform}-${process.arch}-gnu`);
const needed = process.platform === "linux" && existsSync(join(nomic, "edr")) && !existsSync(native) && !process.env.FIBC_NESTED_INSTALL;
if (needed) {
  const [major] = process.versions.node.split(".").map(Number);
  if (major < 22) {
    console.error(`postinstall: Node ${process.versions.node} found first on PATH; run this through npm so that Node 24 from node_modules is used`);
    process.exit(1);
  }
  console.log(`postinstall: installing Hardhat's EDR runtime under Node ${process.versions.node}`);
  execFileSync(process.execPath, [process.env.npm_execpath, "install", "--ignore-scripts", "--no-audit", "--no-fund"], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, FIBC_NESTED_INSTALL: "1" },
  });
}
