// Generates engineio_v3_vectors.json: Engine.IO protocol 3 codec vectors computed by the reference's bundled
// protocol-3 parser (engine.io 6.x, build/parser-v3). Run from tests/: `node unit/data/gen_engineio_v3.mjs`.
//
// The Python tests (tests/unit/test_engineio_payload_v3.py) replay every case against
// aiosocketio.engineio.payload_v3. Bytes are written as hex. Items use our engine's representation: a string
// is a complete text-encoded packet ("4hello", "6"), {"hex": ...} is the data of a binary message.
//
// Decode cases record what the reference hands to its transport callback, in order: each packet as
// {type, data}, where type is null when the reference yields a packet without a known type, and an
// {"type": "error"} entry for each parser error it reports.

import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const parserPath = fileURLToPath(new URL("../../node_modules/engine.io/build/parser-v3/index.js", import.meta.url));
const parser = require(parserPath);
const enginePackage = require(fileURLToPath(new URL("../../node_modules/engine.io/package.json", import.meta.url)));

const TYPES = ["open", "close", "ping", "pong", "message", "upgrade", "noop"];

// --- helpers -------------------------------------------------------------------------------------------------

function itemToPacket(item) {
  if (typeof item === "string") {
    const type = TYPES[Number(item[0])];
    return item.length > 1 ? { type, data: item.slice(1) } : { type };
  }
  return { type: "message", data: Buffer.from(item.hex, "hex") };
}

function itemToJson(item) {
  return item;
}

function packetToJson(packet) {
  if (packet.type === "error") {
    return { type: "error", data: packet.data };
  }
  const out = { type: packet.type === undefined ? null : packet.type };
  if (packet.data === undefined) {
    out.data = null;
  } else if (Buffer.isBuffer(packet.data)) {
    out.data = { hex: packet.data.toString("hex") };
  } else {
    out.data = packet.data;
  }
  return out;
}

const cases = [];
const ids = new Set();

function addCase(c) {
  if (ids.has(c.id)) throw new Error(`duplicate id ${c.id}`);
  ids.add(c.id);
  cases.push(c);
}

function encodePayloadCase(id, items, supportsBinary) {
  let result;
  parser.encodePayload(items.map(itemToPacket), supportsBinary, (data) => {
    result = data;
  });
  if (result === undefined) throw new Error(`${id}: encoder did not answer synchronously`);
  const binary = typeof result !== "string";
  const bytes = binary ? result : Buffer.from(result, "utf8");
  addCase({
    id,
    kind: "encode_payload",
    items: items.map(itemToJson),
    supports_binary: supportsBinary,
    binary,
    body_hex: bytes.toString("hex"),
    // The text body as the reference builds it (before UTF-8), handy when reading failures.
    ...(binary ? {} : { body_text: result }),
  });
}

function decodeTextCase(id, bodyBuffer) {
  // The polling transport reads a text POST body with req.setEncoding("utf8"): a single chunk is
  // Buffer.toString("utf8") (invalid sequences become U+FFFD).
  const text = bodyBuffer.toString("utf8");
  const seen = [];
  parser.decodePayload(text, (packet) => {
    seen.push(packetToJson(packet));
  });
  addCase({ id, kind: "decode_payload", binary: false, body_hex: bodyBuffer.toString("hex"), packets: seen });
}

function decodeBinaryCase(id, bodyBuffer) {
  const seen = [];
  parser.decodePayload(bodyBuffer, (packet) => {
    seen.push(packetToJson(packet));
  });
  addCase({ id, kind: "decode_payload", binary: true, body_hex: bodyBuffer.toString("hex"), packets: seen });
}

function encodeWsCase(id, item, supportsBinary) {
  let result;
  parser.encodePacket(itemToPacket(item), supportsBinary, (data) => {
    result = data;
  });
  const binary = typeof result !== "string";
  addCase({
    id,
    kind: "encode_ws",
    item: itemToJson(item),
    supports_binary: supportsBinary,
    binary,
    frame: binary ? { hex: result.toString("hex") } : result,
  });
}

function decodeWsCase(id, frame) {
  // The WebSocket transport passes text frames as strings and binary frames as Buffers, no binaryType.
  const input = typeof frame === "string" ? frame : Buffer.from(frame.hex, "hex");
  const packet = parser.decodePacket(input);
  addCase({ id, kind: "decode_ws", frame, packet: packetToJson(packet) });
}

const hex = (s) => ({ hex: s });
const text = (s) => Buffer.from(s, "utf8");
const bin = (...bytes) => Buffer.from(bytes);

// --- encode: polling payloads --------------------------------------------------------------------------------

const handshake = '0{"sid":"AAAAAAAAAAAAAAAA","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000}';
for (const supportsBinary of [false, true]) {
  const sb = supportsBinary ? "sb" : "b64";
  encodePayloadCase(`enc-${sb}-empty`, [], supportsBinary);
  encodePayloadCase(`enc-${sb}-noop`, ["6"], supportsBinary);
  encodePayloadCase(`enc-${sb}-close`, ["1"], supportsBinary);
  encodePayloadCase(`enc-${sb}-pong`, ["3"], supportsBinary);
  encodePayloadCase(`enc-${sb}-pong-probe`, ["3probe"], supportsBinary);
  encodePayloadCase(`enc-${sb}-handshake`, [handshake], supportsBinary);
  encodePayloadCase(`enc-${sb}-handshake-connect`, [handshake, "40"], supportsBinary);
  encodePayloadCase(`enc-${sb}-hello-euro`, ["4hello", "4€"], supportsBinary);
  encodePayloadCase(`enc-${sb}-empty-message`, ["4"], supportsBinary);
  encodePayloadCase(`enc-${sb}-non-bmp`, ["4😀", "4a😀b"], supportsBinary);
  encodePayloadCase(`enc-${sb}-lone-surrogate`, ["4a\ud800b"], supportsBinary);
  encodePayloadCase(`enc-${sb}-lone-surrogates-mixed`, ["4a\ud800b", "4\udfff", hex("01"), "4\udbff"], supportsBinary);
  encodePayloadCase(`enc-${sb}-ten-packets`, [..."0123456789"].map((d) => "4" + d.repeat(Number(d))), supportsBinary);
  encodePayloadCase(`enc-${sb}-colon-digits`, ["412:34", "4:"], supportsBinary);
  encodePayloadCase(`enc-${sb}-binary`, [hex("010203")], supportsBinary);
  encodePayloadCase(`enc-${sb}-binary-empty`, [hex("")], supportsBinary);
  encodePayloadCase(`enc-${sb}-binary-ff`, [hex("ff00ff")], supportsBinary);
  encodePayloadCase(`enc-${sb}-mixed`, ["4hello", hex("010203"), "6"], supportsBinary);
  encodePayloadCase(`enc-${sb}-mixed-unicode`, ["4€😀", hex("00"), "4é"], supportsBinary);
  encodePayloadCase(`enc-${sb}-binary-12-bytes`, [hex("000102030405060708090a0b")], supportsBinary);
  encodePayloadCase(`enc-${sb}-socketio-binary-event`, ['451-["upload",{"_placeholder":true,"num":0}]', hex("deadbeef")], supportsBinary);
  encodePayloadCase(`enc-${sb}-long-text`, ["4" + "x".repeat(1234)], supportsBinary);
  encodePayloadCase(`enc-${sb}-long-binary`, [hex("ab".repeat(300)), "4" + "é".repeat(60)], supportsBinary);
}

// --- decode: text polling payloads ---------------------------------------------------------------------------

const textBodies = {
  "dec-text-hello-euro": text("6:4hello2:4€"),
  "dec-text-single": text("2:40"),
  "dec-text-ping": text("1:2"),
  "dec-text-ping-probe": text("6:2probe"),
  "dec-text-close": text("1:1"),
  "dec-text-close-then-message": text("1:14:4abc"),
  "dec-text-upgrade-noop": text("1:51:6"),
  "dec-text-open-with-data": text("3:0ab"),
  "dec-text-empty-body": text(""),
  "dec-text-zero": text("0:"),
  "dec-text-zero-then-message": text("0:2:4a0:"),
  "dec-text-non-bmp": text("3:4😀"),
  "dec-text-non-bmp-wrong-length": text("2:4😀"),
  "dec-text-b64": text("6:b4AQID"),
  "dec-text-b64-empty": text("2:b4"),
  "dec-text-b64-no-type": text("1:b"),
  "dec-text-b64-bad-type": text("6:b9AQID"),
  "dec-text-b64-ping": text("6:b2AQID"),
  "dec-text-b64-lenient": text("7:b4AQ*ID"),
  "dec-text-b64-urlsafe": text("6:b4-_-_"),
  "dec-text-b64-mixed": text("2:406:b4AQID7:4hello"),
  "dec-text-length-past-end": text("9:4hello"),
  "dec-text-length-short": text("3:4hello"),
  "dec-text-no-colon": text("4hello"),
  "dec-text-trailing-digits": text("2:4a12"),
  "dec-text-empty-length": text(":4a"),
  "dec-text-negative-length": text("-1:4a"),
  "dec-text-negative-zero": text("-0:2:4a"),
  "dec-text-space-length": text(" 2:4a"),
  "dec-text-blank-length": text(" :2:4a"),
  "dec-text-hex-length": text("0x2:4a"),
  "dec-text-exponent-length": text("1e1:4abcdefghi"),
  "dec-text-fraction-length": text("2.0:4a"),
  "dec-text-fraction-length-bad": text("1.5:4a"),
  "dec-text-plus-length": text("+2:4a"),
  "dec-text-infinity-length": text("Infinity:4a"),
  "dec-text-letters-length": text("ab:4a"),
  "dec-text-bad-type": text("1:7"),
  "dec-text-bad-type-after-good": text("2:4a1:x2:4b"),
  "dec-text-good-then-bad-length": text("2:4ax:4b"),
  "dec-text-colon-in-data": text("5:4a:b:"),
  "dec-text-invalid-utf8": Buffer.concat([text("3:4"), bin(0xff, 0xfe)]),
  "dec-text-garbage": text("hello world"),
  "dec-text-surrogate-utf8": Buffer.concat([text("4:4"), bin(0xed, 0xa0, 0x80)]),
  "dec-text-truncated-utf8": Buffer.concat([text("2:4"), bin(0xe2, 0x82)]),
  "dec-text-overlong-utf8": Buffer.concat([text("3:4"), bin(0xc0, 0x80)]),
  "dec-text-many": text("1:6".repeat(50)),
  "dec-text-unicode-whitespace-length": text("\u00a02\u3000:4a"),
  "dec-text-octal-binary-length": text("0o2:4a0b10:4b"),
  "dec-text-length-with-underscore": text("1_0:4abcdefghi"),
  "dec-text-nested-lengths": text("5:42:4a2:4b"),
};
for (const [id, body] of Object.entries(textBodies)) decodeTextCase(id, body);

// --- decode: binary polling payloads -------------------------------------------------------------------------

const binaryBodies = {
  "dec-bin-string": Buffer.concat([bin(0, 6, 255), text("4hello")]),
  "dec-bin-binary": bin(1, 4, 255, 4, 1, 2, 3),
  "dec-bin-mixed": Buffer.concat([bin(0, 2, 255), text("40"), bin(1, 3, 255, 4, 0xde, 0xad)]),
  "dec-bin-binary-empty": bin(1, 1, 255, 4),
  "dec-bin-binary-no-type": bin(1, 0, 255),
  "dec-bin-binary-bad-type": bin(1, 3, 255, 9, 1, 2),
  "dec-bin-binary-ping": bin(1, 6, 255, 2, 0x70, 0x72, 0x6f, 0x62, 0x65),
  "dec-bin-binary-close": bin(1, 1, 255, 1),
  "dec-bin-string-utf8": Buffer.concat([bin(0, 4, 255), text("4€")]),
  "dec-bin-string-non-bmp": Buffer.concat([bin(0, 5, 255), text("4😀")]),
  "dec-bin-string-invalid-utf8": bin(0, 3, 255, 0x34, 0xff, 0xfe),
  "dec-bin-string-surrogate-utf8": bin(0, 4, 255, 0x34, 0xed, 0xa0, 0x80),
  "dec-bin-string-truncated-utf8": bin(0, 3, 255, 0x34, 0xe2, 0x82),
  "dec-bin-string-latin1-b64": Buffer.concat([bin(0, 7, 255), text("b4AQID"), bin(0xc1)]),
  "dec-bin-string-b64": Buffer.concat([bin(0, 6, 255), text("b4AQID")]),
  "dec-bin-string-empty": bin(0, 0, 255),
  "dec-bin-string-bad-type": Buffer.concat([bin(0, 2, 255), text("9x")]),
  "dec-bin-bad-then-good": Buffer.concat([bin(0, 1, 255), text("x"), bin(0, 2, 255), text("4a")]),
  "dec-bin-good-then-bad": Buffer.concat([bin(0, 2, 255), text("4a"), bin(0, 1, 255), text("x")]),
  "dec-bin-empty-body": bin(),
  "dec-bin-no-terminator": bin(0, 1, 2),
  "dec-bin-no-terminator-after-good": Buffer.concat([bin(0, 2, 255), text("4a"), bin(0, 1)]),
  "dec-bin-length-past-end": Buffer.concat([bin(0, 9, 255), text("4ab")]),
  "dec-bin-length-short": Buffer.concat([bin(0, 2, 255), text("4abc")]),
  "dec-bin-multi-digit-length": Buffer.concat([bin(0, 1, 2, 255), text("4" + "x".repeat(11))]),
  "dec-bin-digit-byte-over-9": Buffer.concat([bin(0, 12, 255), text("4" + "y".repeat(11)), bin(0, 1, 255), text("6")]),
  "dec-bin-flag-2": Buffer.concat([bin(2, 2, 255), text("4a")]),
  // 311 length digits are the most the reference reads; 312 is an error before any packet is delivered.
  "dec-bin-long-length-digits": Buffer.concat([bin(0), Buffer.alloc(310, 0), bin(1, 255), text("6"), bin(0, 2, 255), text("4a")]),
  "dec-bin-too-long-length-digits": Buffer.concat([bin(0, 1, 255), text("6"), bin(0), Buffer.alloc(311, 0), bin(1, 255), text("6")]),
  "dec-bin-wide-digit-bytes": Buffer.concat([bin(0, 100, 255), text("4" + "z".repeat(99))]),
  "dec-bin-nan-length": Buffer.concat([bin(0, 255), text("x"), bin(0, 1, 255), text("6")]),
  "dec-bin-only-flag": bin(0),
  "dec-bin-text-looking": text("6:4hello"),
  "dec-bin-three": Buffer.concat([bin(0, 1, 255), text("2"), bin(1, 2, 255, 4, 7), bin(0, 1, 255), text("6")]),
};
for (const [id, body] of Object.entries(binaryBodies)) decodeBinaryCase(id, body);

// --- decode: seeded random bodies (differential check of the quirks) ----------------------------------------

let seed = 20240611;
function random(n) {
  // A small LCG so that the vectors are reproducible without dependencies.
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return Math.floor((seed / 2147483648) * n); // the high bits: an LCG's low bits cycle quickly
}
// Bodies are built from mostly well-formed entries, some with a length off by one or a bad type.
const contentAlphabet = [..."0123456b4A:€😀é"];
function randomContent() {
  const types = ["4", "4", "4", "2", "6", "1", "b4", "b", "9", ""];
  let content = types[random(types.length)];
  const size = random(6);
  for (let j = 0; j < size; j++) content += contentAlphabet[random(contentAlphabet.length)];
  return content;
}
function skew(n) {
  const r = random(10);
  return r === 0 ? n + 1 : r === 1 ? Math.max(n - 1, 0) : n;
}
for (let k = 0; k < 40; k++) {
  let body = "";
  const count = 1 + random(4);
  for (let j = 0; j < count; j++) {
    const content = randomContent();
    body += `${skew(content.length)}:${content}`;
  }
  decodeTextCase(`dec-text-random-${k}`, text(body));
}
for (let k = 0; k < 40; k++) {
  const parts = [];
  const count = 1 + random(4);
  for (let j = 0; j < count; j++) {
    const flags = [0, 0, 1, 1, 2];
    const flag = flags[random(flags.length)];
    const content = flag === 0 ? Buffer.from(randomContent(), "utf8") : Buffer.from([random(8), ...Array.from({ length: random(5) }, () => random(256))]);
    const digits = [...String(skew(content.length))].map(Number);
    if (random(12) === 0) digits.push(12);
    parts.push(Buffer.from([flag, ...digits, random(15) === 0 ? 7 : 255]), content);
  }
  decodeBinaryCase(`dec-bin-random-${k}`, Buffer.concat(parts));
}

// --- WebSocket frames ----------------------------------------------------------------------------------------

for (const supportsBinary of [true, false]) {
  const sb = supportsBinary ? "sb" : "b64";
  encodeWsCase(`ws-enc-${sb}-text`, "4hello", supportsBinary);
  encodeWsCase(`ws-enc-${sb}-pong-probe`, "3probe", supportsBinary);
  encodeWsCase(`ws-enc-${sb}-binary`, hex("010203"), supportsBinary);
  encodeWsCase(`ws-enc-${sb}-binary-empty`, hex(""), supportsBinary);
}
encodeWsCase("ws-enc-unicode", "4€😀", true);
encodeWsCase("ws-enc-noop", "6", true);

const wsFrames = {
  "ws-dec-text": "4hello",
  "ws-dec-ping-probe": "2probe",
  "ws-dec-ping": "2",
  "ws-dec-upgrade": "5",
  "ws-dec-empty-text": "",
  "ws-dec-bad-type": "7x",
  "ws-dec-non-bmp": "4😀",
  "ws-dec-b64": "b4AQID",
  "ws-dec-b64-ping": "b2cHJvYmU=",
  "ws-dec-b64-no-type": "b",
  "ws-dec-b64-bad-type": "bzAQID",
  "ws-dec-binary": hex("04010203"),
  "ws-dec-binary-only-type": hex("04"),
  "ws-dec-binary-empty": hex(""),
  "ws-dec-binary-ping": hex("0270726f6265"),
  "ws-dec-binary-close": hex("01"),
  "ws-dec-binary-bad-type": hex("ff0102"),
  "ws-dec-binary-ascii-digit": hex("3461"),
};
for (const [id, frame] of Object.entries(wsFrames)) decodeWsCase(id, frame);

const out = {
  description:
    "Engine.IO protocol 3 codec vectors, computed by the reference parser-v3 bundled with engine.io " +
    `${enginePackage.version} (tests/unit/data/gen_engineio_v3.mjs).`,
  engine_io_version: enginePackage.version,
  cases,
};
const target = fileURLToPath(new URL("./engineio_v3_vectors.json", import.meta.url));
writeFileSync(target, JSON.stringify(out, null, 1) + "\n");
console.log(`wrote ${cases.length} cases to ${target}`);
