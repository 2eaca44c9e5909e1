// The mock BlockRun's payment verifier (tests/common/mock_upstream/blockrun.rs): signatures are
// checked here, by implementations independent of the bridge's Rust code, never by the crate
// under test. viem checks EIP-3009 authorizations on Base; @solana/web3.js decodes Solana
// transactions and tweetnacl checks the payer's ed25519 signature.
//
// A long-lived process: one JSON request a line on stdin, one JSON answer a line on stdout, in
// order. Each package is loaded the first time it is needed, so a mock paid on Base only does
// not need the Solana packages installed.
//
// {"kind":"evm","authorization":{from,to,value,validAfter,validBefore,nonce},"signature":"0x…"}
//   → {"recovered":"0x…" | null, "valid": verifyTypedData for authorization.from}
// {"kind":"svm","transaction":"<base64>"}
//   → {"version", "feePayer", "signers":[…], "signatures":[{"signer","zero","valid"}],
//      "blockhash", "lookups", "instructions":[{program, accounts, data}],
//      "transfers":[{amount, decimals, source, mint, destination, authority}],
//      "memos":[text], "computeUnitLimit", "computeUnitPrice", "txSignature",
//      "expectedDestination": {"<mint>/<owner>": ata} for the owner asked in "ataOwners"}
// A transaction web3.js cannot decode → {"decodeError": "..."}; any other failure (a package
// missing, a bug) → {"error": "..."}.
//
// Env: VIEM_PATH (.tools/viem/node_modules), WEB3_PATH (.tools/solana-web3/node_modules),
// NACL_PATH (.tools/solana/node_modules).
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

let viem;
let web3;
let nacl;
let bs58;

const loadViem = () => {
  if (!viem) viem = createRequire(process.env.VIEM_PATH + "/")("viem");
  return viem;
};
const loadWeb3 = () => {
  if (!web3) {
    const require = createRequire(process.env.WEB3_PATH + "/");
    web3 = require("@solana/web3.js");
    bs58 = require("bs58");
    bs58 = bs58.default ?? bs58;
    nacl = createRequire(process.env.NACL_PATH + "/")("tweetnacl");
  }
  return web3;
};

const domain = {
  name: "USD Coin",
  version: "2",
  chainId: 8453,
  verifyingContract: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
};
const types = {
  TransferWithAuthorization: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "validAfter", type: "uint256" },
    { name: "validBefore", type: "uint256" },
    { name: "nonce", type: "bytes32" },
  ],
};
const primaryType = "TransferWithAuthorization";

async function evm({ authorization: a, signature }) {
  const { verifyTypedData, recoverTypedDataAddress } = loadViem();
  const message = {
    from: a.from,
    to: a.to,
    value: BigInt(a.value),
    validAfter: BigInt(a.validAfter),
    validBefore: BigInt(a.validBefore),
    nonce: a.nonce,
  };
  let recovered = null;
  try {
    recovered = await recoverTypedDataAddress({ domain, types, primaryType, message, signature });
  } catch (e) {
    recovered = null;
  }
  let valid = false;
  try {
    valid = await verifyTypedData({ address: a.from, domain, types, primaryType, message, signature });
  } catch (e) {
    valid = false;
  }
  return { recovered, valid };
}

const COMPUTE_BUDGET = "ComputeBudget111111111111111111111111111111";
const TOKEN = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
const TOKEN_2022 = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb";
const MEMO = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr";
const ATA = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL";

function svm({ transaction, ataOwners }) {
  const { PublicKey, VersionedTransaction, TransactionMessage } = loadWeb3();
  let tx;
  let instructions;
  try {
    tx = VersionedTransaction.deserialize(Buffer.from(transaction, "base64"));
    instructions = TransactionMessage.decompile(tx.message).instructions;
  } catch (e) {
    // The payment's fault, told apart from the verifier's own failures ("error").
    return { decodeError: String(e && e.message ? e.message : e) };
  }
  const message = tx.message;
  const serialized = message.serialize();
  const keys = message.staticAccountKeys;
  const required = message.header.numRequiredSignatures;
  const signatures = tx.signatures.map((sig, i) => ({
    signer: i < keys.length ? keys[i].toBase58() : null,
    zero: sig.every((b) => b === 0),
    valid: i < keys.length && nacl.sign.detached.verify(serialized, sig, keys[i].toBytes()),
  }));
  const out = {
    version: tx.version,
    feePayer: keys[0].toBase58(),
    signers: keys.slice(0, required).map((k) => k.toBase58()),
    signatures,
    blockhash: message.recentBlockhash,
    lookups: message.addressTableLookups.length,
    instructions: instructions.map((ix) => ({
      program: ix.programId.toBase58(),
      accounts: ix.keys.map((k) => ({ key: k.pubkey.toBase58(), signer: k.isSigner, writable: k.isWritable })),
      data: Buffer.from(ix.data).toString("hex"),
    })),
    transfers: [],
    memos: [],
    computeUnitLimit: null,
    computeUnitPrice: null,
    expectedDestination: {},
  };
  for (const ix of instructions) {
    const program = ix.programId.toBase58();
    const data = Buffer.from(ix.data);
    if (program === COMPUTE_BUDGET && data[0] === 2 && data.length === 5) {
      out.computeUnitLimit = data.readUInt32LE(1);
    } else if (program === COMPUTE_BUDGET && data[0] === 3 && data.length === 9) {
      out.computeUnitPrice = data.readBigUInt64LE(1).toString();
    } else if ((program === TOKEN || program === TOKEN_2022) && data[0] === 12 && data.length === 10) {
      out.transfers.push({
        program,
        amount: data.readBigUInt64LE(1).toString(),
        decimals: data[9],
        source: ix.keys[0]?.pubkey.toBase58(),
        mint: ix.keys[1]?.pubkey.toBase58(),
        destination: ix.keys[2]?.pubkey.toBase58(),
        authority: ix.keys[3]?.pubkey.toBase58(),
        authoritySigner: ix.keys[3]?.isSigner ?? false,
      });
    } else if (program === MEMO) {
      out.memos.push(data.toString("utf8"));
    }
  }
  // The token accounts web3.js derives itself, so the mock never trusts the crate's derivation.
  for (const { owner, mint } of ataOwners ?? []) {
    out.expectedDestination[`${mint}/${owner}`] = PublicKey.findProgramAddressSync(
      [new PublicKey(owner).toBuffer(), new PublicKey(TOKEN).toBuffer(), new PublicKey(mint).toBuffer()],
      new PublicKey(ATA),
    )[0].toBase58();
  }
  // The transaction's id is its first signature; the fee payer's is still zero here, so the
  // payer's signature identifies the payment instead.
  const payer = signatures.find((s, i) => i > 0 && !s.zero);
  out.txSignature = payer ? bs58.encode(tx.signatures[signatures.indexOf(payer)]) : null;
  return out;
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    const request = JSON.parse(line);
    if (request.kind === "evm") answer = await evm(request);
    else if (request.kind === "svm") answer = svm(request);
    else if (request.kind === "versions") {
      answer = {};
      if (request.viem) answer.viem = createRequire(process.env.VIEM_PATH + "/")("viem/package.json").version;
      if (request.web3) answer.web3 = createRequire(process.env.WEB3_PATH + "/")("@solana/web3.js/package.json").version;
    } else answer = { error: `unknown kind ${request.kind}` };
  } catch (e) {
    answer = { error: String(e && e.stack ? e.stack.split("\n")[0] : e) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
