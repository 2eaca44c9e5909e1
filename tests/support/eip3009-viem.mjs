// An EIP-712 implementation independent of ours, for tests/payments_signature.rs: viem (pinned
// in scripts/install-deps.sh --viem, into .tools/viem) checks the USDC-on-Base
// TransferWithAuthorization signatures direct mode makes (src/payments/evm.rs).
//
// Reads one JSON object on stdin: {"key": "0x…", "cases": [{"authorization": {from, to, value,
// validAfter, validBefore, nonce}, "signature": "0x…"}]} (numbers as decimal strings, as in the
// PAYMENT-SIGNATURE header). Prints one JSON line: {"viem": <version>, "results": [{"recovered",
// "valid", "tamperedValid", "viemSignature"}]}: the address viem recovers from our signature,
// whether verifyTypedData accepts it for that address, whether it accepts it for the same
// authorization with value + 1 (it must not), and viem's own signature of the authorization
// with the key (RFC 6979, so it must equal ours byte for byte). Env: NODE_PATH
// (.tools/viem/node_modules).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(process.env.NODE_PATH + "/");
const { verifyTypedData, recoverTypedDataAddress } = require("viem");
const { privateKeyToAccount } = require("viem/accounts");
const { version } = require("viem/package.json");

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

const input = JSON.parse(readFileSync(0, "utf8"));
const account = privateKeyToAccount(input.key);
const results = [];
for (const { authorization: a, signature } of input.cases) {
  const message = {
    from: a.from,
    to: a.to,
    value: BigInt(a.value),
    validAfter: BigInt(a.validAfter),
    validBefore: BigInt(a.validBefore),
    nonce: a.nonce,
  };
  const tampered = { ...message, value: message.value + 1n };
  results.push({
    recovered: await recoverTypedDataAddress({ domain, types, primaryType, message, signature }),
    valid: await verifyTypedData({ address: a.from, domain, types, primaryType, message, signature }),
    tamperedValid: await verifyTypedData({
      address: a.from, domain, types, primaryType, message: tampered, signature,
    }),
    viemSignature: await account.signTypedData({ domain, types, primaryType, message }),
  });
}
process.stdout.write(JSON.stringify({ viem: version, results }) + "\n");
