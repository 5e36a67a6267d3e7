/**
 * TensorBoard event records, encoded by hand (no dependency): the TFRecord framing with its masked
 * CRC-32C, and the few protobuf messages a scalar or text summary needs. Field numbers are those
 * of TensorBoard's own protos (tensorboard/compat/proto: event.proto, summary.proto, tensor.proto,
 * tensor_shape.proto, types.proto); the CLI test reads the files back with the real `tensorboard`
 * package. Pure: bytes in, bytes out.
 *
 * TFRecord: uint64 length (little-endian), uint32 masked CRC-32C of those 8 bytes, the data,
 * uint32 masked CRC-32C of the data. Mask: ((crc >>> 15) | (crc << 17)) + 0xa282ead8.
 */

const CASTAGNOLI_REFLECTED = 0x82f63b78;

const CRC_TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CASTAGNOLI_REFLECTED : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli) of `bytes`. */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: a CRC stored next to data that itself holds CRCs stays distinguishable. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord around `data`. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

// ---- protobuf wire format (only what the messages below use) -----------------------------------

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** Builds one message's bytes field by field. */
export class ProtoWriter {
  private parts: Uint8Array[] = [];
  private size = 0;

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
  }

  private key(field: number, wire: number): void {
    this.varintRaw(BigInt(field * 8 + wire));
  }

  private varintRaw(v: bigint): void {
    // Negative int64 values are 10-byte two's complement varints.
    let x = v < 0n ? v + (1n << 64n) : v;
    const bytes: number[] = [];
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x > 0n) b |= 0x80;
      bytes.push(b);
    } while (x > 0n);
    this.push(Uint8Array.from(bytes));
  }

  varint(field: number, v: number | bigint): this {
    this.key(field, WIRE_VARINT);
    this.varintRaw(typeof v === 'bigint' ? v : BigInt(Math.trunc(v)));
    return this;
  }

  double(field: number, v: number): this {
    this.key(field, WIRE_FIXED64);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.push(b);
    return this;
  }

  float(field: number, v: number): this {
    this.key(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
    return this;
  }

  bytes(field: number, v: Uint8Array): this {
    this.key(field, WIRE_LEN);
    this.varintRaw(BigInt(v.length));
    this.push(v);
    return this;
  }

  string(field: number, v: string): this {
    return this.bytes(field, new TextEncoder().encode(v));
  }

  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

// ---- tensorboard.Event and its summaries --------------------------------------------------------

/** tensorboard.DataType DT_STRING (types.proto). */
const DT_STRING = 7;

/** A scalar summary value: `Summary.Value { tag = 1, simple_value = 2 }`. */
export interface ScalarValue {
  tag: string;
  value: number;
}

/** A text summary (the text plugin): `Summary.Value { tag, metadata { plugin_data { plugin_name: "text" } }, tensor: DT_STRING scalar }`. */
export interface TextValue {
  tag: string;
  text: string;
}

function eventHead(wallTimeS: number, step: number): ProtoWriter {
  // Event { wall_time = 1 (double), step = 2 (int64) }
  return new ProtoWriter().double(1, wallTimeS).varint(2, step);
}

/** The first event of a file: `Event { wall_time, file_version = 3: "brain.Event:2" }`. */
export function fileVersionEvent(wallTimeS: number): Uint8Array {
  return new ProtoWriter().double(1, wallTimeS).string(3, 'brain.Event:2').finish();
}

/** An event holding scalar values at one step: `Event { wall_time, step, summary = 5 { value = 1 ... } }`. */
export function scalarEvent(wallTimeS: number, step: number, values: readonly ScalarValue[]): Uint8Array {
  const summary = new ProtoWriter();
  for (const v of values) summary.message(1, new ProtoWriter().string(1, v.tag).float(2, v.value));
  return eventHead(wallTimeS, step).message(5, summary).finish();
}

/** An event holding one text summary. */
export function textEvent(wallTimeS: number, step: number, v: TextValue): Uint8Array {
  const metadata = new ProtoWriter().message(1, new ProtoWriter().string(1, 'text'));
  // TensorProto { dtype = 1, tensor_shape = 2 (a scalar: no dims), string_val = 8 }
  const tensor = new ProtoWriter().varint(1, DT_STRING).message(2, new ProtoWriter()).string(8, v.text);
  const value = new ProtoWriter().string(1, v.tag).message(9, metadata).message(8, tensor);
  return eventHead(wallTimeS, step).message(5, new ProtoWriter().message(1, value)).finish();
}
