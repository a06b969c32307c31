import type { Address, Hex } from "viem";

/**
 * A contract transaction's terms as IGateway.Registration has them: the paper's ctx1 with tx1 and tx1'. The contract id
 * commits to every field and the Gateway stores none of them, so every later step (pre-commit, terminate, cancel,
 * compensation) passes them back; relayers read them from the ContractRegistered event.
 */
export type Registration = {
  asset: Address;
  amount: bigint;
  beneficiary: Address;
  refundTo: Address;
  salt: Hex;
  tx2: Hex;
  tx2r: Hex;
  counterparty: bigint;
  /** Expiry on this chain. */
  h1: bigint;
  /** Expiry of the mirror on the counterparty. */
  h2: bigint;
  /** Last height of this chain at which this side may be registered. */
  registerBy: bigint;
  /** Last height of the counterparty at which the mirror may be registered. */
  mirrorBy: bigint;
};
