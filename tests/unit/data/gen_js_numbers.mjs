// Generates js_numbers_vectors.json: how a Node.js peer reads JSON numbers and writes them back. For each
// input text, `output` is JSON.stringify(JSON.parse(input)) as Node computes it: integers beyond 2**53 - 1
// round to the nearest double, numbers beyond the largest double become Infinity, written as null.
// Run from tests/: `node unit/data/gen_js_numbers.mjs`.
//
// The Python tests (tests/unit/test_socketio_parser.py) decode each input as event data with the default
// parser and check that encoding it again gives `output`, byte for byte: the echo a Node server would send.

import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const digits = (first, count) => first + "0".repeat(count - 1);

const inputs = [
  ["safe-max", "[9007199254740991,-9007199254740991]"],
  ["two-pow-53", "[9007199254740992,-9007199254740992]"],
  ["two-pow-53-plus-one", "[9007199254740993,-9007199254740993]"],
  ["seventeen-digits", "[12345678901234567,98765432109876543]"],
  ["two-pow-60", "[1152921504606846976]"],
  ["u64-max", "[18446744073709551615]"],
  ["u64-max-plus-one", "[18446744073709551616]"],
  ["i64-min", "[-9223372036854775808]"],
  ["i64-min-minus-one", "[-9223372036854775809]"],
  ["twenty-digits", "[12345678901234567890]"],
  ["thirty-digits", "[123456789012345678901234567890,-123456789012345678901234567890]"],
  ["twenty-four-digits", "[100000000000000000000000]"],
  ["three-hundred-eight-digits", "[" + digits("1", 308) + "]"],
  ["four-hundred-digits", "[" + digits("1", 400) + "," + "-" + digits("1", 400) + "]"],
  ["three-hundred-nine-nines", "[" + "9".repeat(309) + "]"],
  ["five-thousand-digits", "[" + "1".repeat(5000) + "]"],
  ["exponent-overflow", "[1e400,-1e400,1E+999]"],
  ["largest-double", "[1.7976931348623157e308]"],
  ["just-past-largest-double", "[1.7976931348623159e308]"],
  ["long-fraction", "[0.1234567890123456789,1234567890123456.5]"],
  ["exponents", "[1e21,1e308,5e-324,1e-7]"],
  ["zeros", "[0,-0,1.0,-0.0]"],
  ["small-ints", "[1,-1,255,65536,4294967296]"],
  ["nested", '{"a":[1,{"b":123456789012345678901234567890}],"c":"12345678901234567890","d":[[[9007199254740993]]]}'],
  ["digits-in-strings-and-keys", '{"9007199254740993":"9007199254740993","x":["123456789012345678901234567890"]}'],
  ["with-other-values", '["echo",123456789012345678901234567890,true,null,"s",[],{}]'],
];

const cases = inputs.map(([id, input]) => ({ id, input, output: JSON.stringify(JSON.parse(input)) }));
const out = {
  description:
    "JSON.stringify(JSON.parse(input)) as Node.js " + process.version + " computes it (tests/unit/data/gen_js_numbers.mjs).",
  node_version: process.version,
  cases,
};
writeFileSync(fileURLToPath(new URL("js_numbers_vectors.json", import.meta.url)), JSON.stringify(out, null, 1) + "\n");
console.log(`${cases.length} cases written`);
