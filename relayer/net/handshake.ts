import { createHash, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from "node:crypto";
import { bytesToHex, getAddress, hashMessage, hexToBytes, type Address, type Hex, type LocalAccount } from "viem";
import { recoverSigner } from "../util/recoverSigner.js";
import { FrameOpener, FrameSealer, TAG_BYTES } from "./sealedFrames.js";

/*
 * The peer handshake, after Noise XX with signatures in place of static Diffie-Hellman (committee identities are
 * secp256k1 Ethereum keys, which can sign but not do X25519):
 *
 *   1. initiator → responder   hello:  version ‖ e_i ‖ n_i
 *   2. responder → initiator   reply:  e_r ‖ n_r ‖ seal_hs(responder address ‖ sig_r(h_r))
 *   3. initiator → responder   finish: seal_hs(initiator address ‖ sig_i(h_i))
 *
 * e_* are fresh X25519 keys and n_* fresh 32-byte nonces. The transcript hash chains everything in order:
 * h_x = SHA-256(protocol ‖ hello ‖ e_r ‖ n_r), h_r = SHA-256(h_x ‖ "responder" ‖ responder),
 * h_i = SHA-256(h_r ‖ "initiator" ‖ initiator). Each side signs the hash that ends with its own role and address, so a
 * signature names both ephemeral keys, both nonces, both roles and every address known when it is made: it is worth
 * exactly one connection, and only to whoever holds one of that connection's ephemeral secrets. The addresses travel
 * sealed under handshake keys from DH(e_i, e_r), hidden from a passive observer. Session keys, one per direction,
 * come from the same DH with h_i as salt: someone who relays the handshake without an ephemeral secret can read and
 * send nothing afterwards.
 */

export const HANDSHAKE_VERSION = 1;
/** Domain tag: names the protocol and its primitives, so no other protocol's transcript hashes the same way. */
const PROTOCOL = Buffer.from("FinalityIBC peer handshake v1: X25519, SHA-256, HKDF-SHA256, ChaCha20-Poly1305, secp256k1 EIP-191");
const KEY_BYTES = 32;
const NONCE_BYTES = 32;
const ADDRESS_BYTES = 20;
const SIGNATURE_BYTES = 65;
const IDENTITY_BYTES = ADDRESS_BYTES + SIGNATURE_BYTES;
export const HELLO_BYTES = 1 + KEY_BYTES + NONCE_BYTES;
export const REPLY_BYTES = KEY_BYTES + NONCE_BYTES + IDENTITY_BYTES + TAG_BYTES;
export const FINISH_BYTES = IDENTITY_BYTES + TAG_BYTES;
/** Both role labels have 9 bytes, so every hashed input has one reading. */
const ROLE = { responder: Buffer.from("responder"), initiator: Buffer.from("initiator") } as const;

/** Why a handshake message is refused (a subset of the transport's reject reasons). */
export type HandshakeRefusal =
  /** Not a handshake message of this version at this step (wrong size or version). */
  | "unauthenticated"
  /** A sealed identity that does not open, a signature over another transcript or by another key, a degenerate key. */
  | "bad-auth"
  /** An address the caller does not accept (`accept` returned false). */
  | "forbidden";

export type HandshakeResult<T> = ({ ok: true } & T) | { ok: false; reason: HandshakeRefusal };

/** The frame keys of one direction each. */
export type DirectionKeys = { initiatorToResponder: Buffer; responderToInitiator: Buffer };
/** Frame keys seen from one side: `send` seals what it sends, `receive` opens what it receives. */
export type LinkKeys = { send: Buffer; receive: Buffer };
/** What signs for this side: a committee account (the test of an impostor passes one address with another key). */
export type HandshakeSigner = Pick<LocalAccount, "address" | "signMessage">;

/** An X25519 key pair for one connection. */
export type Ephemeral = { privateKey: KeyObject; publicKey: Buffer };

export function newEphemeral(): Ephemeral {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  return { privateKey, publicKey: Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url") };
}

/** X25519(ours, theirs), or undefined when `theirs` is a low-order point (OpenSSL refuses the all-zero secret). */
export function sharedSecret(ours: Ephemeral, theirs: Uint8Array): Buffer | undefined {
  try {
    const publicKey = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.from(theirs).toString("base64url") }, format: "jwk" });
    return diffieHellman({ privateKey: ours.privateKey, publicKey });
  } catch {
    return undefined;
  }
}

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return hash.digest();
};

export type ExchangeHashParameters = { hello: Uint8Array; responderKey: Uint8Array; responderNonce: Uint8Array };

/** h_x: the transcript of both ephemeral keys and nonces (the hello carries the version, e_i and n_i). */
export function exchangeHash({ hello, responderKey, responderNonce }: ExchangeHashParameters): Buffer {
  return sha256(PROTOCOL, hello, responderKey, responderNonce);
}

/** h_r, what the responder signs: h_x extended with its role and address. */
export function responderHash({ exchange, responder }: { exchange: Uint8Array; responder: Address }): Buffer {
  return sha256(exchange, ROLE.responder, hexToBytes(responder));
}

/** h_i, what the initiator signs and the salt of the session keys: h_r extended with its role and address. */
export function initiatorHash({ responderHash, initiator }: { responderHash: Uint8Array; initiator: Address }): Buffer {
  return sha256(responderHash, ROLE.initiator, hexToBytes(initiator));
}

/** The signer's EIP-191 signature of a transcript hash (the prefix keeps it apart from transactions). */
export async function signTranscript({ signer, hash }: { signer: HandshakeSigner; hash: Uint8Array }): Promise<Hex> {
  return signer.signMessage({ message: { raw: hash } });
}

/**
 * The address whose key made `signature` over `hash` (as `signTranscript` makes it), or undefined for a signature
 * that recovers to no key. Synchronous (viem's recovery is not), so that the frames that arrive in the same read as
 * the last handshake message find the session already keyed.
 */
export function transcriptSigner({ hash, signature }: { hash: Uint8Array; signature: Uint8Array }): Address | undefined {
  try {
    return recoverSigner(hexToBytes(hashMessage({ raw: hash })), signature);
  } catch {
    return undefined;
  }
}

export type DeriveKeysParameters = {
  sharedSecret: Uint8Array;
  /** The transcript hash so far: h_x for the handshake keys, h_i for the session keys. */
  salt: Uint8Array;
  purpose: "handshake" | "session";
};

/** One key per direction, by HKDF-SHA256 from the X25519 secret. */
export function deriveKeys({ sharedSecret, salt, purpose }: DeriveKeysParameters): DirectionKeys {
  const okm = Buffer.from(hkdfSync("sha256", sharedSecret, salt, Buffer.concat([PROTOCOL, Buffer.from(` ${purpose} keys`)]), 2 * KEY_BYTES));
  return { initiatorToResponder: okm.subarray(0, KEY_BYTES), responderToInitiator: okm.subarray(KEY_BYTES) };
}

/** A sealed identity: the address and its signature, under a handshake key used for this one frame. */
function sealIdentity(key: Uint8Array, address: Address, signature: Hex): Buffer {
  return new FrameSealer(key).seal(Buffer.concat([hexToBytes(address), hexToBytes(signature)]));
}

function openIdentity(key: Uint8Array, sealed: Uint8Array): { address: Address; signature: Buffer } | undefined {
  const identity = new FrameOpener(key).open(sealed);
  if (!identity || identity.length !== IDENTITY_BYTES) return undefined;
  return { address: getAddress(bytesToHex(identity.subarray(0, ADDRESS_BYTES))), signature: identity.subarray(ADDRESS_BYTES) };
}

/** What the initiator keeps between its hello and the reply. */
export type InitiatorState = { ephemeral: Ephemeral; hello: Buffer };
/** What the responder keeps between its reply and the finish: no ephemeral secret, only the DH result. */
export type ResponderState = { sharedSecret: Buffer; responderHash: Buffer; finishKey: Buffer };

/** Initiator, message 1. */
export function startHandshake(): { hello: Buffer; state: InitiatorState } {
  const ephemeral = newEphemeral();
  const hello = Buffer.concat([Buffer.of(HANDSHAKE_VERSION), ephemeral.publicKey, randomBytes(NONCE_BYTES)]);
  return { hello, state: { ephemeral, hello } };
}

/** Responder: takes message 1 and makes message 2, signed by `signer`. */
export async function answerHello({ hello, signer }: { hello: Uint8Array; signer: HandshakeSigner }): Promise<HandshakeResult<{ reply: Buffer; state: ResponderState }>> {
  if (hello.length !== HELLO_BYTES || hello[0] !== HANDSHAKE_VERSION) return { ok: false, reason: "unauthenticated" };
  const ephemeral = newEphemeral();
  const secret = sharedSecret(ephemeral, hello.subarray(1, 1 + KEY_BYTES));
  if (!secret) return { ok: false, reason: "bad-auth" };
  const responderNonce = randomBytes(NONCE_BYTES);
  const exchange = exchangeHash({ hello, responderKey: ephemeral.publicKey, responderNonce });
  const keys = deriveKeys({ sharedSecret: secret, salt: exchange, purpose: "handshake" });
  const hash = responderHash({ exchange, responder: signer.address });
  const signature = await signTranscript({ signer, hash });
  const reply = Buffer.concat([ephemeral.publicKey, responderNonce, sealIdentity(keys.responderToInitiator, signer.address, signature)]);
  return { ok: true, reply, state: { sharedSecret: secret, responderHash: hash, finishKey: keys.initiatorToResponder } };
}

export type AnswerReplyParameters = {
  state: InitiatorState;
  reply: Uint8Array;
  signer: HandshakeSigner;
  /** Whether the responder's address may be talked to (checked before its signature is). */
  accept: (address: Address) => boolean;
};

/** Initiator: checks message 2 and makes message 3. Once this succeeds, the initiator's side of the link is keyed. */
export async function answerReply({ state, reply, signer, accept }: AnswerReplyParameters): Promise<HandshakeResult<{ peer: Address; finish: Buffer; keys: LinkKeys }>> {
  if (reply.length !== REPLY_BYTES) return { ok: false, reason: "unauthenticated" };
  const responderKey = reply.subarray(0, KEY_BYTES);
  const responderNonce = reply.subarray(KEY_BYTES, KEY_BYTES + NONCE_BYTES);
  const secret = sharedSecret(state.ephemeral, responderKey);
  if (!secret) return { ok: false, reason: "bad-auth" };
  const exchange = exchangeHash({ hello: state.hello, responderKey, responderNonce });
  const keys = deriveKeys({ sharedSecret: secret, salt: exchange, purpose: "handshake" });
  const identity = openIdentity(keys.responderToInitiator, reply.subarray(KEY_BYTES + NONCE_BYTES));
  if (!identity) return { ok: false, reason: "bad-auth" };
  if (!accept(identity.address)) return { ok: false, reason: "forbidden" };
  const rHash = responderHash({ exchange, responder: identity.address });
  if (transcriptSigner({ hash: rHash, signature: identity.signature }) !== identity.address) return { ok: false, reason: "bad-auth" };
  const iHash = initiatorHash({ responderHash: rHash, initiator: signer.address });
  const signature = await signTranscript({ signer, hash: iHash });
  const session = deriveKeys({ sharedSecret: secret, salt: iHash, purpose: "session" });
  return {
    ok: true,
    peer: identity.address,
    finish: sealIdentity(keys.initiatorToResponder, signer.address, signature),
    keys: { send: session.initiatorToResponder, receive: session.responderToInitiator },
  };
}

export type AcceptFinishParameters = {
  state: ResponderState;
  finish: Uint8Array;
  /** Whether the initiator's address may be talked to (checked before its signature is). */
  accept: (address: Address) => boolean;
};

/** Responder: checks message 3; once this succeeds the responder's side of the link is keyed. */
export function acceptFinish({ state, finish, accept }: AcceptFinishParameters): HandshakeResult<{ peer: Address; keys: LinkKeys }> {
  if (finish.length !== FINISH_BYTES) return { ok: false, reason: "unauthenticated" };
  const identity = openIdentity(state.finishKey, finish);
  if (!identity) return { ok: false, reason: "bad-auth" };
  if (!accept(identity.address)) return { ok: false, reason: "forbidden" };
  const iHash = initiatorHash({ responderHash: state.responderHash, initiator: identity.address });
  if (transcriptSigner({ hash: iHash, signature: identity.signature }) !== identity.address) return { ok: false, reason: "bad-auth" };
  const session = deriveKeys({ sharedSecret: state.sharedSecret, salt: iHash, purpose: "session" });
  return { ok: true, peer: identity.address, keys: { send: session.responderToInitiator, receive: session.initiatorToResponder } };
}
