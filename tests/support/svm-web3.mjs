// An implementation of Solana's transaction format independent of ours, for
// tests/payments_svm.rs: @solana/web3.js (pinned in scripts/install-deps.sh --solana-web3, into
// .tools/solana-web3) decodes the x402 `exact` payments direct mode builds on Solana
// (src/payments/svm.rs), and tweetnacl (.tools/solana, --solana) checks our ed25519 signature.
//
// Reads one JSON object on stdin: {"cases": [{"header": <PAYMENT-SIGNATURE value>}]}. Prints one
// JSON line: {"web3": <version>, "results": [...]}, one per case: the envelope's fields, what
// VersionedTransaction.deserialize reads (version, header, signatures, account keys, blockhash,
// lookups), whether nacl verifies our signature over message.serialize() (and rejects it over a
// changed message), and the instructions as TransactionMessage.decompile gives them (program,
// accounts with their signer / writable flags, data in hex), with the compute budget,
// TransferChecked and memo decoded, and the USDC token accounts findProgramAddressSync derives
// for the owner and the payee. Env: NODE_PATH (.tools/solana-web3/node_modules), NACL_PATH
// (.tools/solana/node_modules).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(process.env.NODE_PATH + "/");
const web3 = require("@solana/web3.js");
const { version } = require("@solana/web3.js/package.json");
const nacl = createRequire(process.env.NACL_PATH + "/")("tweetnacl");
const { PublicKey, VersionedTransaction, TransactionMessage } = web3;

const TOKEN = new PublicKey("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
const ATA = new PublicKey("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");
const ata = (owner, mint) =>
  PublicKey.findProgramAddressSync([owner.toBuffer(), TOKEN.toBuffer(), mint.toBuffer()], ATA)[0].toBase58();

const input = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const { header } of input.cases) {
  const envelope = JSON.parse(Buffer.from(header, "base64").toString("utf8"));
  const bytes = Buffer.from(envelope.payload.transaction, "base64");
  const tx = VersionedTransaction.deserialize(bytes);
  const message = tx.message;
  const serialized = message.serialize();
  const keys = message.staticAccountKeys;
  const owner = keys[1];
  const tampered = Buffer.from(serialized);
  tampered[tampered.length - 2] ^= 1;
  const instructions = TransactionMessage.decompile(message).instructions.map((ix) => ({
    program: ix.programId.toBase58(),
    accounts: ix.keys.map((k) => ({ key: k.pubkey.toBase58(), signer: k.isSigner, writable: k.isWritable })),
    data: Buffer.from(ix.data).toString("hex"),
  }));
  const [limit, price, transfer, memo] = TransactionMessage.decompile(message).instructions;
  const mint = transfer.keys[1].pubkey;
  results.push({
    x402Version: envelope.x402Version,
    accepted: envelope.accepted,
    version: tx.version,
    reserialized: Buffer.from(tx.serialize()).equals(bytes),
    header: message.header,
    signatures: tx.signatures.length,
    feePayerSignatureZero: tx.signatures[0].every((b) => b === 0),
    signatureValid: nacl.sign.detached.verify(serialized, tx.signatures[1], owner.toBytes()),
    tamperedValid: nacl.sign.detached.verify(tampered, tx.signatures[1], owner.toBytes()),
    feePayer: keys[0].toBase58(),
    owner: owner.toBase58(),
    blockhash: message.recentBlockhash,
    lookups: message.addressTableLookups.length,
    instructions,
    computeUnitLimit: Buffer.from(limit.data).readUInt32LE(1),
    computeUnitPrice: Buffer.from(price.data).readBigUInt64LE(1).toString(),
    transfer: {
      tag: transfer.data[0],
      amount: Buffer.from(transfer.data).readBigUInt64LE(1).toString(),
      decimals: transfer.data[9],
      dataLength: transfer.data.length,
    },
    memo: Buffer.from(memo.data).toString("utf8"),
    expectedSource: ata(owner, mint),
    expectedDestination: ata(new PublicKey(envelope.accepted.payTo), mint),
  });
}
process.stdout.write(JSON.stringify({ web3: version, results }) + "\n");
