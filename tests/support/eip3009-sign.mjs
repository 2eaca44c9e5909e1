// Signs USDC-on-Base TransferWithAuthorization messages with viem (pinned in
// scripts/install-deps.sh --viem), for tests/mock_blockrun.rs: payments made by an
// implementation other than the crate's, to show the mock BlockRun accepts them on their merits.
//
// Reads one JSON object on stdin: {"key": "0x…", "authorization": {from, to, value, validAfter,
// validBefore, nonce}} (numbers as decimal strings). Prints one JSON line: {"signature": "0x…"}.
// Env: NODE_PATH (.tools/viem/node_modules).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(process.env.NODE_PATH + "/");
const { privateKeyToAccount } = require("viem/accounts");

const input = JSON.parse(readFileSync(0, "utf8"));
const a = input.authorization;
const signature = await privateKeyToAccount(input.key).signTypedData({
  domain: {
    name: "USD Coin",
    version: "2",
    chainId: 8453,
    verifyingContract: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
  },
  types: {
    TransferWithAuthorization: [
      { name: "from", type: "address" },
      { name: "to", type: "address" },
      { name: "value", type: "uint256" },
      { name: "validAfter", type: "uint256" },
      { name: "validBefore", type: "uint256" },
      { name: "nonce", type: "bytes32" },
    ],
  },
  primaryType: "TransferWithAuthorization",
  message: {
    from: a.from,
    to: a.to,
    value: BigInt(a.value),
    validAfter: BigInt(a.validAfter),
    validBefore: BigInt(a.validBefore),
    nonce: a.nonce,
  },
});
process.stdout.write(JSON.stringify({ signature }) + "\n");
