// The x402 reference client for Solana, for tests/payments_svm.rs: @x402/svm's ExactSvmScheme
// (pinned with its peer @solana/kit in scripts/install-deps.sh --x402-svm, into .tools/x402-svm)
// builds the payment for the same offer, key and blockhash as ours, and @solana/kit decodes both
// transactions, so the test can compare the instructions one by one.
//
// Reads one JSON object on stdin: {"cases": [{"secret": <base58 64-byte secret key>,
// "requirements": <the accepted offer, with extra.recentBlockhash set to our blockhash>,
// "ours": <our transaction, base64>}]}. No RPC is used: the blockhash comes from
// extra.recentBlockhash (which the client honours), and the mint's metadata (classic SPL Token
// program, 6 decimals) is put in the scheme's mint cache instead of being fetched.
// Prints one JSON line: {"x402svm": <version>, "kit": <version>, "results": [{"reference": <decoded>,
// "ours": <decoded>}]}, each decoded as {version, header, feePayer, blockhash, staticAccounts,
// instructions: [{program, accounts: [{address, role}], data (hex)}]}. Env: NODE_PATH
// (.tools/x402-svm/node_modules).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const root = process.env.NODE_PATH;
const require = createRequire(root + "/");
const kit = require("@solana/kit");
const { ExactSvmScheme } = require("@x402/svm/exact/client");
// The classic SPL Token program (USDC's), as the scheme's mint lookup would find it.
const TOKEN_PROGRAM_ADDRESS = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
const versionOf = (name) => JSON.parse(readFileSync(join(root, name, "package.json"), "utf8")).version;

const hex = (bytes) => Buffer.from(bytes).toString("hex");

function decode(base64) {
  const bytes = kit.getBase64Encoder().encode(base64);
  const tx = kit.getTransactionDecoder().decode(bytes);
  const compiled = kit.getCompiledTransactionMessageDecoder().decode(tx.messageBytes);
  const message = kit.decompileTransactionMessage(compiled);
  return {
    version: compiled.version,
    header: compiled.header,
    feePayer: message.feePayer.address,
    blockhash: message.lifetimeConstraint.blockhash,
    staticAccounts: compiled.staticAccounts,
    signers: Object.keys(tx.signatures),
    instructions: message.instructions.map((ix) => ({
      program: ix.programAddress,
      accounts: (ix.accounts ?? []).map((a) => ({ address: a.address, role: a.role })),
      data: hex(ix.data ?? new Uint8Array()),
    })),
  };
}

const input = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const { secret, requirements, ours } of input.cases) {
  const signer = await kit.createKeyPairSignerFromBytes(kit.getBase58Encoder().encode(secret));
  const scheme = new ExactSvmScheme(signer);
  scheme.mintCache.set(
    `${requirements.network}:${requirements.asset}`,
    Promise.resolve({ decimals: 6, programAddress: TOKEN_PROGRAM_ADDRESS }),
  );
  const { payload } = await scheme.createPaymentPayload(2, requirements);
  results.push({ reference: decode(payload.transaction), ours: decode(ours) });
}
console.log(
  JSON.stringify(
    { x402svm: versionOf("@x402/svm"), kit: versionOf("@solana/kit"), results },
    (_, v) => (typeof v === "bigint" ? v.toString() : v),
  ),
);
