import { hashMessage, hexToBytes, type Hex, type PrivateKeyAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { signHash } from "./signHash.js";

/**
 * A relayer's account for `privateKey`: viem's private-key account, whose hash and message signatures (views, co-signatures,
 * handshakes) come from signHash instead of noble; transactions and typed data are viem's. The bytes are the same.
 */
export function relayerAccount(privateKey: Hex): PrivateKeyAccount {
  const account = privateKeyToAccount(privateKey);
  const key = hexToBytes(privateKey);
  return {
    ...account,
    sign: async ({ hash }) => signHash(hexToBytes(hash), key),
    signMessage: async ({ message }) => signHash(hexToBytes(hashMessage(message)), key),
  };
}
