// An implementation of ClawRouter's Solana wallet derivation that is independent of ours, for
// tests/admin_wallet_solana.rs: the npm packages a Solana wallet uses (bip39 for the seed,
// ed25519-hd-key for SLIP-10 at m/44'/501'/0'/0', tweetnacl for the public key, bs58 for the
// address), pinned in scripts/install-deps.sh --solana (into .tools/solana).
//
// Prints one JSON line: {"mnemonics": [...], "addresses": [...]}, for COUNT fresh mnemonics
// (default 3; bip39's generator, 128 and 256 bits alternately), or for the mnemonics given as
// arguments. Env: NODE_PATH (.tools/solana/node_modules).
import { createRequire } from "node:module";

const require = createRequire(process.env.NODE_PATH + "/");
const resolve = (name) => require.resolve(name);
const bip39 = require("bip39");
const nacl = require("tweetnacl");
const { derivePath } = await import(resolve("ed25519-hd-key"));
const bs58lib = require("bs58");
const bs58 = bs58lib.encode ? bs58lib : bs58lib.default;

const given = process.argv.slice(2);
const count = Number(process.env.COUNT || 3);
const mnemonics = given.length
  ? given
  : Array.from({ length: count }, (_, i) => bip39.generateMnemonic(i % 2 ? 256 : 128));

const addresses = mnemonics.map((mnemonic) => {
  if (!bip39.validateMnemonic(mnemonic)) throw new Error("bip39 rejects a mnemonic");
  const seed = bip39.mnemonicToSeedSync(mnemonic).toString("hex");
  const { key } = derivePath("m/44'/501'/0'/0'", seed);
  return bs58.encode(nacl.sign.keyPair.fromSeed(key).publicKey);
});
process.stdout.write(JSON.stringify({ mnemonics, addresses }) + "\n");
